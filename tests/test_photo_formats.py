"""Photos as cameras and phones write them (issue 14, API.md §1): every kind is made in memory from a fixture face,
decodes to the right upright BGR uint8 picture, and answers the same 1:1 score as the plain JPEG (within 0.01).

The plain JPEG is obama.jpg as the registry package ships it; each kind is made from its decoded pixels, so the
lossless kinds (PNG, BMP, TIFF...) hold exactly the plain JPEG's picture and the lossy ones (re-encoded JPEG, GIF's
256 colours, CMYK) nearly. Grayscale photos hold less than the colour one: their score is held to the plain
grayscale JPEG's.
"""
from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from edge_face.imaging import ImageError, decode_image, sniff_format

FACE, OTHER, SOMEONE_ELSE = "obama.jpg", "obama2.jpg", "biden.jpg"
SCORE_TOLERANCE = 0.01
VERIFY = "/identity/image_verification/stateless"

# Stored picture = INVERSE[o](upright) displays upright under EXIF orientation o (Pillow's exif_transpose applies
# the forward transform; the flips, 180, transpose and transverse are their own inverses).
INVERSE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # displayed after a quarter turn clockwise
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def save(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()


def bgr(rgb) -> np.ndarray:
    return cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2BGR)


def gray3(gray) -> np.ndarray:
    return cv2.cvtColor(np.asarray(gray), cv2.COLOR_GRAY2BGR)


@dataclass(frozen=True)
class Faces:
    """The fixture face's pixels (RGB, no ICC profile or EXIF carried along) and a second person's."""

    rgb: Image.Image
    other: Image.Image

    @property
    def gray(self) -> Image.Image:
        return self.rgb.convert("L")


@dataclass(frozen=True)
class Kind:
    """One kind of photo: its bytes, the picture it must decode to (BGR) within a mean absolute difference, the
    format Pillow must report, and whether its score is held to the colour or the grayscale plain JPEG."""

    data: bytes
    expected: np.ndarray
    max_mean_diff: float
    pillow_format: str
    gray: bool = False


def _mpo(f: Faces, preview: Image.Image, **kwargs) -> bytes:
    return save(f.rgb, "MPO", save_all=True, append_images=[preview], quality=95, **kwargs)


def _plain_q95(f: Faces) -> np.ndarray:
    return bgr(Image.open(io.BytesIO(save(f.rgb, "JPEG", quality=95))).convert("RGB"))


def mpo_preview(f: Faces) -> Kind:
    """A camera MPO: the photo, then a quarter-size preview of it."""
    preview = f.rgb.resize((f.rgb.width // 4, f.rgb.height // 4))
    return Kind(_mpo(f, preview), _plain_q95(f), 0.0, "MPO")


def mpo_other_second_picture(f: Faces) -> Kind:
    """The second picture is someone else, larger than the photo: only the first picture is the photo."""
    return Kind(_mpo(f, f.other.resize((f.rgb.width + 64, f.rgb.height + 64))), _plain_q95(f), 0.0, "MPO")


def mpo_rotated(f: Faces) -> Kind:
    """An MPO from a camera held upright: stored sideways, EXIF orientation 6."""
    exif = Image.Exif()
    exif[0x0112] = 6
    data = save(f.rgb.transpose(INVERSE[6]), "MPO", save_all=True, exif=exif.tobytes(), quality=95,
                append_images=[f.rgb.resize((160, 200))])
    return Kind(data, _plain_q95(f), 1.5, "MPO")


def exif_orientation(o: int) -> Callable[[Faces], Kind]:
    def build(f: Faces) -> Kind:
        exif = Image.Exif()
        exif[0x0112] = o
        stored = f.rgb if INVERSE[o] is None else f.rgb.transpose(INVERSE[o])
        return Kind(save(stored, "JPEG", exif=exif.tobytes(), quality=95), _plain_q95(f), 1.5, "JPEG")

    build.__name__ = f"exif_orientation_{o}"
    return build


def progressive_jpeg(f: Faces) -> Kind:
    return Kind(save(f.rgb, "JPEG", quality=95, progressive=True), _plain_q95(f), 0.0, "JPEG")


def cmyk_jpeg(f: Faces) -> Kind:
    """CMYK with black generation (K = 1 - max(R, G, B)), saved as Photoshop does: Adobe APP14, inverted CMYK."""
    rgb = np.asarray(f.rgb).astype(np.float64) / 255
    k = 1 - rgb.max(axis=2, keepdims=True)
    cmy = (1 - rgb - k) / np.maximum(1 - k, 1e-9)
    cmyk = np.round(np.concatenate([cmy, k], axis=2) * 255).astype(np.uint8)
    data = save(Image.fromarray(cmyk, "CMYK"), "JPEG", quality=95)
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "CMYK" and "adobe" in im.info
    return Kind(data, bgr(f.rgb), 1.5, "JPEG")


def gray_jpeg(f: Faces) -> Kind:
    return Kind(save(f.gray, "JPEG", quality=95), gray3(f.gray), 1.0, "JPEG", gray=True)


def gray_png(f: Faces) -> Kind:
    return Kind(save(f.gray, "PNG"), gray3(f.gray), 0.0, "PNG", gray=True)


def _sixteen_bits(values: np.ndarray) -> np.ndarray:
    """8-bit values v as 16-bit v*256 + (255 - v): scaled down right, back to v (within 1); truncated to the low
    byte, the negative; clipped, white."""
    v = values.astype(np.uint16)
    return (v << 8) | (255 - v)


def png_16bit_rgb(f: Faces) -> Kind:
    ok, data = cv2.imencode(".png", _sixteen_bits(bgr(f.rgb)))  # Pillow cannot write 16-bit RGB
    assert ok
    return Kind(data.tobytes(), bgr(f.rgb), 0.5, "PNG")


def png_16bit_gray(f: Faces) -> Kind:
    data = save(Image.fromarray(_sixteen_bits(np.asarray(f.gray))), "PNG")
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "I;16"
    return Kind(data, gray3(f.gray), 0.5, "PNG", gray=True)


def tiff_16bit_gray(f: Faces) -> Kind:
    data = save(Image.fromarray(_sixteen_bits(np.asarray(f.gray))), "TIFF", compression="tiff_lzw")
    return Kind(data, gray3(f.gray), 0.5, "TIFF", gray=True)


def palette_png(f: Faces) -> Kind:
    pal = f.rgb.quantize(256)
    return Kind(save(pal, "PNG"), bgr(pal.convert("RGB")), 0.0, "PNG")


def png_alpha_opaque(f: Faces) -> Kind:
    rgba = f.rgb.convert("RGBA")
    return Kind(save(rgba, "PNG"), bgr(f.rgb), 0.0, "PNG")


def _cutout_mask(f: Faces) -> Image.Image:
    """A phone's "remove background" cut-out: the head and shoulders opaque, the rest transparent."""
    w, h = f.rgb.size
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).ellipse((w * 0.08, h * 0.02, w * 0.92, h * 0.98), fill=255)
    return mask


def _on_white(f: Faces, mask: Image.Image) -> np.ndarray:
    return bgr(Image.composite(f.rgb, Image.new("RGB", f.rgb.size, (255, 255, 255)), mask))


def png_alpha_cutout(f: Faces) -> Kind:
    """Transparent pixels left black underneath (as cut-out tools write them): composited on white."""
    mask = _cutout_mask(f)
    black = Image.composite(f.rgb, Image.new("RGB", f.rgb.size), mask)
    black.putalpha(mask)
    return Kind(save(black, "PNG"), _on_white(f, mask), 0.0, "PNG")


def png_gray_alpha(f: Faces) -> Kind:
    mask = _cutout_mask(f)
    la = f.gray.convert("LA")
    la.putalpha(mask)
    white = Image.composite(f.gray, Image.new("L", f.rgb.size, 255), mask)
    return Kind(save(la, "PNG"), gray3(white), 0.0, "PNG", gray=True)


def palette_png_transparent(f: Faces) -> Kind:
    """A palette PNG whose colour 255 is transparent (tRNS), the cut-out's outside painted with it."""
    pal = f.rgb.quantize(255)
    pixels = np.asarray(pal).copy()
    pixels[np.asarray(_cutout_mask(f)) == 0] = 255
    out = Image.fromarray(pixels, "P")
    out.putpalette(pal.getpalette()[:255 * 3] + [0, 0, 0])
    data = save(out, "PNG", transparency=255)
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "P" and "transparency" in im.info
    return Kind(data, bgr(Image.composite(pal.convert("RGB"), Image.new("RGB", f.rgb.size, (255, 255, 255)),
                                          _cutout_mask(f))), 0.0, "PNG")


def bmp_24bit(f: Faces) -> Kind:
    return Kind(save(f.rgb, "BMP"), bgr(f.rgb), 0.0, "BMP")


def bmp_palette(f: Faces) -> Kind:
    pal = f.rgb.quantize(256)
    return Kind(save(pal, "BMP"), bgr(pal.convert("RGB")), 0.0, "BMP")


def gif(f: Faces) -> Kind:
    pal = f.rgb.quantize(256)
    return Kind(save(pal, "GIF"), bgr(pal.convert("RGB")), 0.0, "GIF")


def gif_animated(f: Faces) -> Kind:
    """The first frame is the photo; the second, someone else."""
    pal = f.rgb.quantize(256)
    data = save(pal, "GIF", save_all=True, append_images=[f.other.resize(f.rgb.size).quantize(256)], duration=100)
    with Image.open(io.BytesIO(data)) as im:
        assert im.n_frames == 2
    return Kind(data, bgr(pal.convert("RGB")), 0.0, "GIF")


def tiff(compression: str | None) -> Callable[[Faces], Kind]:
    def build(f: Faces) -> Kind:
        kwargs = {"compression": compression} if compression else {}
        lossy = compression == "jpeg"
        return Kind(save(f.rgb, "TIFF", **kwargs), bgr(f.rgb), 2.5 if lossy else 0.0, "TIFF")

    build.__name__ = f"tiff_{compression or 'raw'}"
    return build


def tiff_multipage(f: Faces) -> Kind:
    data = save(f.rgb, "TIFF", compression="tiff_lzw", save_all=True, append_images=[f.other.resize((485, 1102))])
    return Kind(data, bgr(f.rgb), 0.0, "TIFF")


KINDS: list[Callable[[Faces], Kind]] = [
    mpo_preview, mpo_other_second_picture, mpo_rotated,
    *(exif_orientation(o) for o in range(1, 9)),
    progressive_jpeg, cmyk_jpeg, gray_jpeg, gray_png, png_16bit_rgb, png_16bit_gray, tiff_16bit_gray, palette_png,
    png_alpha_opaque, png_alpha_cutout, png_gray_alpha, palette_png_transparent,
    bmp_24bit, bmp_palette, gif, gif_animated,
    tiff(None), tiff("tiff_lzw"), tiff("tiff_adobe_deflate"), tiff("packbits"), tiff("jpeg"), tiff_multipage,
]


def _pixels(path) -> Image.Image:
    with Image.open(path) as im:
        return Image.fromarray(np.asarray(im.convert("RGB")))  # drops the ICC profile and EXIF


@pytest.fixture(scope="module")
def faces(photos) -> Faces:
    return Faces(_pixels(photos / FACE), _pixels(photos / SOMEONE_ELSE))


@pytest.fixture(scope="module")
def plain_scores(photos, faces, face_service) -> dict[bool, float]:
    """The score of the plain JPEG (colour) and of the plain grayscale JPEG against a second photo of him."""
    second = decode_image((photos / OTHER).read_bytes())
    colour = face_service.verify_pair(decode_image((photos / FACE).read_bytes()), second).score
    gray = face_service.verify_pair(decode_image(save(faces.gray, "JPEG")), second).score
    return {False: colour, True: gray}


@pytest.fixture(scope="module")
def second_photo(photos) -> np.ndarray:
    return decode_image((photos / OTHER).read_bytes())


def _decoded(kind: Kind) -> np.ndarray:
    with Image.open(io.BytesIO(kind.data)) as im:
        assert im.format == kind.pillow_format
    out = decode_image(kind.data)
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3 and out.flags.c_contiguous
    return out


@pytest.mark.parametrize("build", KINDS, ids=lambda b: b.__name__)
def test_decodes_to_the_picture_a_viewer_shows(faces, build):
    kind = build(faces)
    out = _decoded(kind)
    assert out.shape == kind.expected.shape
    diff = np.abs(out.astype(np.int16) - kind.expected.astype(np.int16))
    assert diff.mean() <= kind.max_mean_diff, diff.mean()
    if kind.gray:
        assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])


@pytest.mark.parametrize("build", KINDS, ids=lambda b: b.__name__)
def test_scores_as_the_plain_jpeg(faces, face_service, plain_scores, second_photo, build):
    kind = build(faces)
    score = face_service.verify_pair(_decoded(kind), second_photo).score
    assert abs(score - plain_scores[kind.gray]) <= SCORE_TOLERANCE, (score, plain_scores[kind.gray])


def test_grayscale_still_matches(plain_scores):
    assert plain_scores[True] > 0.7


def _quadrants() -> Image.Image:
    q = np.zeros((40, 80, 3), np.uint8)
    q[:20, :40], q[:20, 40:], q[20:, :40], q[20:, 40:] = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
    return Image.fromarray(q)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt, mode", [("PNG", "RGB"), ("PNG", "RGBA"), ("TIFF", "RGB"), ("TIFF", "RGBA"),
                                       ("MPO", "RGB")])
def test_exif_orientation_in_every_format_that_carries_it(fmt, mode, orientation):
    """PNG (eXIf) and TIFF too, with or without transparency (which OpenCV and Pillow decode respectively)."""
    upright = _quadrants()
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored = upright if INVERSE[orientation] is None else upright.transpose(INVERSE[orientation])
    kwargs = {"save_all": True, "append_images": [Image.new("RGB", (16, 16))], "quality": 95} if fmt == "MPO" else {}
    data = save(stored.convert(mode), fmt, exif=exif if fmt == "TIFF" else exif.tobytes(), **kwargs)
    out = decode_image(data)
    assert out.shape == (40, 80, 3)
    assert np.abs(out.astype(np.int16) - bgr(upright)).mean() < 5  # JPEG's colour edges; a wrong turn: > 60


# --- MPO: the multi-picture index is a JPEG everywhere (FRS accepts JPG only), and stays safe ------------------

def _mp_entry_size_offset(data: bytes, size: int) -> int:
    """Where the first MP entry's Size (little-endian, as Pillow writes the MP index) sits in the file."""
    mpf = data.index(b"MPF\x00")
    at = data.index(struct.pack("<L", size), mpf)
    assert at < mpf + 200
    return at


def test_an_mpo_sniffs_as_jpeg(faces):
    assert sniff_format(mpo_preview(faces).data) == "JPEG"


def test_an_mpo_with_a_wrong_first_picture_size_still_decodes(faces):
    kind = mpo_preview(faces)
    with Image.open(io.BytesIO(kind.data)) as im:
        size = im.mpinfo[0xB002][0]["Size"]
    at = _mp_entry_size_offset(kind.data, size)
    for bogus in (0, len(kind.data) + 1):
        data = kind.data[:at] + struct.pack("<L", bogus) + kind.data[at + 4:]
        assert np.array_equal(decode_image(data), kind.expected)


def test_an_mpo_whose_first_picture_is_truncated_is_corrupt(faces):
    """The preview's end-of-image follows, inside the range the index gives the first picture: still truncated."""
    data = mpo_preview(faces).data
    with Image.open(io.BytesIO(data)) as im:
        size = im.mpinfo[0xB002][0]["Size"]
    with pytest.raises(ImageError) as err:
        decode_image(data[:size // 2] + data[size:])
    assert err.value.kind == "corrupt"


def test_an_mpo_is_checked_against_the_limits_of_its_first_picture(faces):
    from edge_face.config import Limits

    small = faces.rgb.resize((400, 500))
    data = save(small, "MPO", save_all=True, append_images=[Image.new("RGB", (6000, 64))], quality=90)
    assert decode_image(data).shape == (500, 400, 3)  # the oversized second picture is never decoded
    with pytest.raises(ImageError) as err:
        decode_image(data, Limits(max_image_side=450))
    assert err.value.kind == "size"


def test_a_fully_transparent_png_is_taken_as_opaque(faces):
    rgba = faces.rgb.convert("RGBA")
    rgba.putalpha(0)
    assert np.array_equal(decode_image(save(rgba, "PNG")), bgr(faces.rgb))


# --- over real HTTP ------------------------------------------------------------------------------------------

def test_an_mpo_on_senseid_1_1_scores_as_the_plain_jpeg(api, photos, faces):
    plain = api.post(VERIFY, api.pair((photos / FACE).read_bytes(), (photos / OTHER).read_bytes())).json()
    resp = api.post(VERIFY, api.pair(mpo_preview(faces).data, (photos / OTHER).read_bytes()))
    body = resp.json()
    assert resp.status_code == 200 and body["code"] == 1000, body
    assert abs(body["verification_score"] - plain["verification_score"]) <= SCORE_TOLERANCE


def test_an_mpo_on_frs_counts_as_a_jpeg(api, photos, faces):
    import base64

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    resp = api.post("/v2/edge-project/face-compare", headers={"X-Auth-Token": "any-token"},
                    json={"image1_base64": b64(mpo_preview(faces).data),
                          "image2_base64": b64((photos / OTHER).read_bytes())})
    body = resp.json()
    assert resp.status_code == 200 and body["similarity"] > 0.93, body
