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
