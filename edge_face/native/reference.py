"""The reference of every native routine: OpenCV + NumPy, the definition the C++ code is tested against.

This is also the path that runs with `EDGE_FACE_NATIVE=0`. The native kernels restate OpenCV's arithmetic bit for
bit, so that both paths produce the same tensors. The input contract both paths implement (pixel layouts,
InputSpec) is edge_face.models.contract; OpenCV's arithmetic restated once more in NumPy, to test the C++ where
cv2 itself is not the same, is in tests/support/oracles.py.
"""
from __future__ import annotations

import cv2
import numpy as np

from edge_face.models.contract import InputSpec, check_frame


def to_bgr(frame: np.ndarray, layout: str = "bgr") -> np.ndarray:
    """The frame as a C-contiguous (H, W, 3) BGR uint8 array (the frame itself when it already is one)."""
    bgr = check_frame(frame, layout)
    if bgr == (0, 1, 2) and frame.shape[2] == 3:
        return np.ascontiguousarray(frame)
    return np.ascontiguousarray(frame[:, :, list(bgr)])


def warp_affine(bgr: np.ndarray, matrix: np.ndarray, width: int, height: int) -> np.ndarray:
    """The aligned crop: bilinear, black outside the photo."""
    return cv2.warpAffine(bgr, np.asarray(matrix, np.float64), (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def face_tensors(frame: np.ndarray, layout: str, matrix: np.ndarray, specs: list[InputSpec]) -> list[np.ndarray]:
    """The input tensor of each model for the face that `matrix` maps onto the crop: warp, then normalise."""
    bgr = to_bgr(frame, layout)
    crops: dict[tuple[int, int], np.ndarray] = {}
    out = []
    for spec in specs:
        size = (spec.width, spec.height)
        if size not in crops:
            crops[size] = warp_affine(bgr, matrix, *size)
        out.append(spec.tensor(crops[size]))
    return out


INTERPOLATION = {"linear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA}


def letterbox(frame: np.ndarray, layout: str, spec: InputSpec, size: tuple[int, int], interpolation: str) -> np.ndarray:
    """The detector input: the frame resized to `size` (w, h) at the top left of the spec's canvas, black
    elsewhere (a copy when the size is the frame's own)."""
    bgr = to_bgr(frame, layout)
    sw, sh = size
    if (sw, sh) != (bgr.shape[1], bgr.shape[0]):
        bgr = cv2.resize(bgr, (sw, sh), interpolation=INTERPOLATION[interpolation])
    if spec.mirror:
        raise ValueError("letterbox: mirrored batches are for face crops")
    black = spec.values(np.zeros((1, 3), np.uint8))[0]
    x = np.empty((spec.height, spec.width, 3), np.dtype(spec.dtype))
    x[:] = black
    if spec.dtype == "float32" and spec.src == (0, 1, 2) and not any(spec.mean) and spec.std == (1.0, 1.0, 1.0):
        x[:sh, :sw] = bgr  # the values are the pixels: convert while copying
    else:
        x[:sh, :sw] = spec.values(bgr)
    x = x[None]
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if spec.nchw else x


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError("cosine_matrix expects (N, D) and (M, D) arrays with the same D")
    na = np.linalg.norm(a, axis=1, keepdims=True)
    nb = np.linalg.norm(b, axis=1, keepdims=True)
    a = np.divide(a, na, out=np.zeros_like(a), where=na > 0)
    b = np.divide(b, nb, out=np.zeros_like(b), where=nb > 0)
    return (a @ b.T).astype(np.float32)


def interp(x: np.ndarray | float, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """The calibrated-score map: piecewise linear through the knots (xp increasing)."""
    return np.interp(np.asarray(x, np.float64), xp, fp)
