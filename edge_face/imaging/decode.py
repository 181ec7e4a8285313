"""Photo bytes -> upright BGR uint8 array, or an ImageError that says which documented rule was broken.

Order matters for safety: byte length, then the format's magic, then the dimensions read from the header alone
(Pillow opens lazily), and only then the full decode, so a decompression bomb never gets decoded. Nothing is ever
written to disk: every decoder reads from memory.

Photos as cameras and phones write them (API.md §1) decode to the picture a viewer shows:
- JPEG with a multi-picture index (MPO: a preview or depth picture after the photo; Pillow reports `MPO`): the first
  picture, which is the photo; its limits are read from its own header, and only its bytes (up to its own EOI,
  found by walking its segments, not trusting the index) are checked for truncation and decoded;
- EXIF orientation (all 8 values, JPEG/MPO/PNG/TIFF) applied; progressive JPEG; CMYK JPEG (Adobe inverted CMYK as
  Photoshop writes it; libjpeg also converts YCCK, untested: Pillow cannot write it) converted to RGB;
- grayscale: the gray copied into the 3 channels; 16-bit PNG/TIFF: scaled to 8 bits (the high byte, not clipped);
  palette PNG/BMP/GIF: expanded; GIF and multi-page TIFF: the first frame;
- transparency (alpha channel, or a tRNS/GIF transparent colour): composited on white, the way viewers and ID
  photos show a cut-out, instead of revealing whatever colour the encoder left under transparent pixels (often
  black). A picture that is transparent everywhere (32-bit BMPs whose alpha byte is unused) is taken as opaque.
"""
from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps

from edge_face.config import Limits

_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),  # also MPO: a JPEG whose APP2 carries the multi-picture index
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"BM", "BMP"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)

# What Pillow may report for each sniffed format: an MPO is a JPEG (its first picture is a plain JPEG).
_PILLOW_FORMATS = {"JPEG": ("JPEG", "MPO"), "PNG": ("PNG",), "BMP": ("BMP",), "GIF": ("GIF",), "TIFF": ("TIFF",)}

_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_KEYED_MODES = frozenset({"1", "L", "P", "RGB"})  # transparency given as one colour/palette alpha in im.info


class ImageError(ValueError):
    """kind: "length" (2004), "size" (2003), "type" (2005) or "corrupt" (2006)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def sniff_format(data: bytes) -> str | None:
    """The format from the magic bytes: "JPEG" (an MPO included), "PNG", "BMP", "GIF", "TIFF" or None."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    return None


@dataclass(frozen=True)
class _Header:
    size: tuple[int, int]  # of the first picture
    transparent: bool  # has an alpha channel or a transparent colour: composite on white


def _read_header(data: bytes, fmt: str) -> _Header:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "malformed MPO": Pillow then reads it as the plain JPEG it is
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:
                if im.format not in _PILLOW_FORMATS[fmt]:
                    raise ImageError("corrupt", f"{fmt} header is not readable")
                transparent = im.mode in _ALPHA_MODES or (im.mode in _KEYED_MODES and "transparency" in im.info)
                return _Header(im.size, transparent)
        except ImageError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageError("size", "too many pixels") from None
        except Exception:  # noqa: BLE001 - UnidentifiedImageError, OSError, SyntaxError, and on hostile headers
            # AssertionError, KeyError...: all a header that cannot be read
            raise ImageError("corrupt", f"{fmt} header is not readable") from None


# A marker: 0xFF then neither a stuffed 0x00, a fill 0xFF, nor a restart marker (RST0-7 sit inside scan data).
_JPEG_MARKER = re.compile(rb"\xff[\x01\xc0-\xcf\xd8-\xfe]")


def _jpeg_end(data: bytes) -> int | None:
    """Length of the first picture (through its EOI), or None when it is truncated.

    Walks the segments by their lengths and each scan's entropy-coded data to the next marker (0xFF cannot occur
    there unstuffed), so what follows the first picture (an MPO's preview or depth picture, an Ultra HDR gain map,
    trailing bytes) can neither hide a truncated photo nor be decoded in its place."""
    pos = 2  # after SOI
    while (found := _JPEG_MARKER.search(data, pos)) is not None:
        pos, marker = found.start(), data[found.start() + 1]
        if marker == 0xD9:  # EOI
            return pos + 2
        if marker == 0xD8:  # the next picture's SOI (an MPO's preview...) before this one's EOI
            return None
        if marker == 0x01:  # TEM: no length
            pos += 2
            continue
        if pos + 4 > len(data):
            return None
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if length < 2:
            return None
        pos += 2 + length  # a start-of-scan's entropy-coded data is then skipped by the next search
    return None


def _check_complete(data: bytes, fmt: str) -> bytes:
    """The bytes of the picture to decode (a JPEG's first picture); reject truncated files that decoders would
    otherwise fill with grey."""
    if fmt == "JPEG":
        end = _jpeg_end(data)
        if end is None:
            raise ImageError("corrupt", "JPEG data is truncated")
        return data[:end]
    if fmt == "PNG":
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.verify()  # walks every chunk and checks its CRC
        except Exception:  # noqa: BLE001 - any failure of verify() means a damaged file
            raise ImageError("corrupt", "PNG data is truncated or corrupt") from None
    return data


def _pillow_upright(data: bytes) -> Image.Image:
    """First frame, EXIF orientation applied, fully loaded."""
    with Image.open(io.BytesIO(data)) as im:
        im.seek(0)
        out = ImageOps.exif_transpose(im)
        out.load()
        return out


def _decode_on_white(data: bytes) -> np.ndarray | None:
    """A picture with transparency, composited on white (see the module docstring)."""
    try:
        rgba = np.asarray(_pillow_upright(data).convert("RGBA"))
    except Exception:  # noqa: BLE001 - the OpenCV decoder gets its chance
        return None
    rgb, alpha = rgba[..., :3], rgba[..., 3:]
    if not alpha.any():
        out = rgb
    else:
        a = alpha.astype(np.uint16)
        out = ((rgb * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)  # at most 255*255+127: fits uint16
    return cv2.cvtColor(np.ascontiguousarray(out), cv2.COLOR_RGB2BGR)


def _decode_with_pillow(data: bytes) -> np.ndarray | None:
    try:
        im = _pillow_upright(data)
        if im.mode.startswith("I;16"):  # Pillow's own I;16 -> L clips at 255: take the high byte
            gray = (np.asarray(im).astype(np.uint16) >> 8).astype(np.uint8)
            return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
        rgb = np.asarray(im.convert("RGB"))
    except Exception:  # noqa: BLE001
        return None
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


# JPEG pictures over a pixel budget decode reduced in the DCT domain (libjpeg's scale_denom, which OpenCV's
# IMREAD_REDUCED_COLOR_k flags select): a 1/k picture costs about 1/k^2 of the full decode's time and memory, and the
# full-size picture never exists.
_REDUCED = ((1, cv2.IMREAD_COLOR), (2, cv2.IMREAD_REDUCED_COLOR_2), (4, cv2.IMREAD_REDUCED_COLOR_4),
            (8, cv2.IMREAD_REDUCED_COLOR_8))


def reduction(width: int, height: int, pixel_budget: int) -> int:
    """The smallest DCT scale-down k (1, 2, 4 or 8) that brings a picture within `pixel_budget` (0: no budget)."""
    for k, _ in _REDUCED:
        if not pixel_budget or (-(-width // k)) * (-(-height // k)) <= pixel_budget:
            return k
    return _REDUCED[-1][0]


@dataclass(frozen=True)
class Photo:
    """A decoded photo: upright BGR uint8 `pixels`, and `scale`, the photo's own pixels per decoded pixel (1.0
    unless it was decoded reduced), so that rectangles go back to the pixel frame the client sent."""

    pixels: np.ndarray
    scale: float = 1.0

    def original(self, rect) -> tuple[int, ...]:
        """An integer rectangle (or point list) of `pixels` in the photo's own pixel frame."""
        return tuple(int(round(v * self.scale)) for v in rect)


def decode_photo(data: bytes, limits: Limits = Limits()) -> Photo:
    """decode_image under `limits.decode_pixel_budget`: a larger JPEG is decoded reduced in the DCT domain, so its
    full-size picture never exists in memory (a 25-Mpx photo is 75 MB decoded)."""
    pixels, k = _decode(data, limits, limits.decode_pixel_budget)
    return Photo(pixels, float(k))


def decode_image(data: bytes, limits: Limits = Limits(), pixel_budget: int = 0) -> np.ndarray:
    """Decode a photo into an upright BGR uint8 image (EXIF orientation applied). `pixel_budget` (0: none): a JPEG
    with more pixels decodes reduced 2, 4 or 8 times per side (see `reduction`; decode_photo says by how much)."""
    return _decode(data, limits, pixel_budget)[0]


def _decode(data: bytes, limits: Limits, pixel_budget: int) -> tuple[np.ndarray, int]:
    """The upright BGR image and the factor k it was reduced by per side (1: full size)."""
    if len(data) > limits.max_image_bytes:
        raise ImageError("length", f"photo is {len(data)} bytes, limit {limits.max_image_bytes}")
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageError("type", "not a JPG, PNG, BMP, GIF or TIFF file")
    header = _read_header(data, fmt)
    width, height = header.size
    if not (limits.min_image_side <= width <= limits.max_image_side
            and limits.min_image_side <= height <= limits.max_image_side):
        raise ImageError("size", f"{width}x{height} is outside {limits.min_image_side}-{limits.max_image_side} px")
    if width * height > limits.max_image_pixels:
        raise ImageError("size", f"{width}x{height} exceeds {limits.max_image_pixels} pixels")
    data = _check_complete(data, fmt)  # a JPEG's (an MPO's) first picture only, else the whole file
    img = _decode_on_white(data) if header.transparent else None
    k = 1
    if img is None:
        # IMREAD_COLOR: 8-bit BGR whatever the source (gray, palette, 16-bit, CMYK/YCCK), EXIF orientation applied
        k = reduction(width, height, pixel_budget) if fmt == "JPEG" else 1
        img = cv2.imdecode(np.frombuffer(data, np.uint8), dict(_REDUCED)[k])
    if img is None and fmt in ("GIF", "TIFF", "BMP"):
        img = _decode_with_pillow(data)
    if img is None or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ImageError("corrupt", f"{fmt} data cannot be decoded")
    return img, k
