"""Photos over the pixel budget decode reduced in the DCT domain (edge_face.imaging.decode): the same picture as a
full decode shrunk afterwards, within JPEG's own error, upright, and never larger than the budget."""
from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from edge_face.config import Limits
from edge_face.imaging.decode import decode_image, reduction


def _large_jpeg(photos, width: int, height: int, orientation: int = 1) -> bytes:
    """A fixture face enlarged to width x height (smooth, as a camera's picture is), as a quality-95 JPEG."""
    face = cv2.imread(str(photos / "obama.jpg"))
    big = cv2.resize(face, (width, height), interpolation=cv2.INTER_CUBIC)
    im = Image.fromarray(cv2.cvtColor(big, cv2.COLOR_BGR2RGB))
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    im.save(out, "JPEG", quality=95, exif=exif.tobytes())
    return out.getvalue()


@pytest.mark.parametrize("k", [2, 4, 8])
def test_reduced_decode_equals_a_shrunk_full_decode(photos, k):
    data = _large_jpeg(photos, 2000, 1500)
    full = decode_image(data, Limits())
    width, height = -(-2000 // k), -(-1500 // k)  # libjpeg rounds up
    budget = width * height  # just fits 1/k, not 1/(k/2)
    assert reduction(2000, 1500, budget) == k
    reduced = decode_image(data, Limits(), pixel_budget=budget)
    assert reduced.shape == (height, width, 3) and reduced.dtype == np.uint8
    # Each reduced pixel is the mean of a k x k block (the last row or column may be partial): compare the whole
    # blocks with the full decode averaged over the same blocks.
    wk, hk = 2000 // k, 1500 // k
    shrunk = cv2.resize(full[:hk * k, :wk * k], (wk, hk), interpolation=cv2.INTER_AREA)
    diff = np.abs(reduced[:hk, :wk].astype(np.int16) - shrunk.astype(np.int16))
    assert diff.mean() < 1.5 and np.percentile(diff, 99) < 8, (diff.mean(), np.percentile(diff, 99))


def test_reduced_decode_is_upright_and_within_the_budget(photos):
    data = _large_jpeg(photos, 1200, 1600, orientation=6)  # stored 1200 wide, 1600 high; shown a quarter turned
    full = decode_image(data, Limits())
    reduced = decode_image(data, Limits(), pixel_budget=1_000_000)
    assert full.shape[:2] == (1200, 1600)  # EXIF 6: a quarter turn
    assert reduced.shape[:2] == (600, 800) and reduced.shape[0] * reduced.shape[1] <= 1_000_000


def test_within_the_budget_or_not_a_jpeg_decodes_at_full_size(photos):
    jpeg = _large_jpeg(photos, 800, 600)
    assert decode_image(jpeg, Limits(), pixel_budget=800 * 600).shape == (600, 800, 3)
    png = cv2.imencode(".png", decode_image(jpeg, Limits()))[1].tobytes()
    assert decode_image(png, Limits(), pixel_budget=1000).shape == (600, 800, 3)
    assert reduction(10_000, 10_000, 1000) == 8  # the most libjpeg can do


def test_the_api_decodes_large_photos_reduced_and_answers_in_the_photos_own_pixels(api_server, api_config, photos):
    """A 4800x3600 camera JPEG with a face at its own size (17 Mpx, over the 12-Mpx default budget) is decoded at half size by the API; the face
    rectangles of 1.2 and 2.1 still come back in the photo's own pixel frame: those of a server that decodes it
    whole, within the rounding of the half-size search."""
    from dataclasses import replace

    from edge_face import routes

    face = cv2.imread(str(photos / "obama.jpg"))
    rng = np.random.default_rng(0)
    wall = rng.integers(90, 160, (36, 48, 3), dtype=np.uint8)  # a room's blotchy wall, no face in it
    canvas = cv2.resize(wall, (4800, 3600), interpolation=cv2.INTER_CUBIC)
    h, w = face.shape[:2]
    canvas[1200:1200 + h, 2000:2000 + w] = face  # the face at its own size in a large camera frame
    big = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    assert api_config.limits.decode_pixel_budget < 4800 * 3600
    reduced = api_server()
    whole = api_server(limits=replace(api_config.limits, decode_pixel_budget=0))
    small = cv2.imencode(".jpg", cv2.imread(str(photos / "obama2.jpg")))[1].tobytes()

    def rects(server) -> tuple[list, dict]:
        pairs = server.post(routes.ALL_PAIRS, server.pair(big, small)).json()
        quality = server.post(routes.QUALITY, {"encrypted_image": server.encrypt(big)}).json()
        assert pairs["code"] == 1000 and quality["code"] == 1000, (pairs, quality)
        return pairs["face_rects"]["first_image_face_rects"][0], quality["faces"][0]["rect"]

    (r1, q1), (r2, q2) = rects(reduced), rects(whole)
    tolerance = 0.05 * (r2[2] - r2[0])  # 5% of the face width: a half-size search rounds to 2 px and more
    assert np.allclose(r1, r2, atol=tolerance), (r1, r2)
    assert np.allclose([q1[k] for k in ("left", "top", "right", "bottom")],
                       [q2[k] for k in ("left", "top", "right", "bottom")], atol=tolerance), (q1, q2)
    assert r1[0] > 2000  # the photo's frame, not the half-size one
