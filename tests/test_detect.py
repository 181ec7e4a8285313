"""YuNet's decoding: boxes and landmarks decoded only for the cells over the threshold are the same values as when
every cell is decoded and the rest dropped afterwards."""
from __future__ import annotations

import numpy as np
import pytest

from edge_face.imaging import decode_image
from edge_face.pipeline.detect import decode


@pytest.mark.parametrize("side", [160, 320, 640])
def test_decode_over_a_threshold_is_the_full_decode_filtered(photos, face_service, side):
    det = face_service.detector.detector
    x, _ = det._input(decode_image((photos / "obama.jpg").read_bytes()), "bgr", side)
    outputs = det.runner.run(x)
    every = decode(outputs, x.shape[2], x.shape[1])
    assert len(every[0]) == sum((x.shape[1] // s) * (x.shape[2] // s) for s in (8, 16, 32))
    for threshold in (0.0, 0.3, 0.87, 1.01):
        keep = every[0] >= threshold
        some = decode(outputs, x.shape[2], x.shape[1], threshold)
        for all_cells, kept in zip(every, some):
            np.testing.assert_array_equal(all_cells[keep], kept)
    assert 0 < len(decode(outputs, x.shape[2], x.shape[1], 0.87)[0]) < 50  # the face, in a few cells
