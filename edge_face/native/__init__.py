"""The native core, with the OpenCV/NumPy reference beside it.

Every routine here runs the C++ extension (edge_face._native, built by `pip install`) when it is enabled, and the
reference (edge_face.native.reference) otherwise; the two produce the same values (tests/test_native*.py).
`EDGE_FACE_NATIVE=0` selects the reference everywhere; `set_enabled` changes that for the whole process and
`use_native(False)` for a block of code in one thread (benchmarks compare both in one process).

- face_tensors: decoded frame + alignment matrix -> each model's input tensor, in one pass (warp, colour order,
  normalisation or quantization, layout, mirrored batch slot);
- letterbox: decoded frame -> the detector's input tensor (resize, padding, colour order, normalisation);
- crop: the aligned BGR crop itself (the one crop path of the service);
- cosine_matrix, interp: scoring.
Frames are (H, W, C) uint8 arrays in any layout of `edge_face.models.contract.LAYOUTS` (BGR, RGB, picamera2's
BGRX/RGBX ...), with any strides (padded rows, views); each model's tensor is described by its
`edge_face.models.contract.InputSpec`.
"""
from __future__ import annotations

import contextlib
import os
import threading
from typing import Iterator

import numpy as np

from edge_face.models.contract import InputSpec, check_frame
from edge_face.native import reference

try:  # the extension is built by `pip install`; a source checkout without a build still works
    from edge_face import _native  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the install
    _native = None

__all__ = ["AVAILABLE", "ENABLED", "cosine_matrix", "crop", "enabled", "face_tensors", "interp", "letterbox",
           "set_enabled", "use_native"]

AVAILABLE = _native is not None and hasattr(_native, "warp_affine")
ENABLED = AVAILABLE and os.environ.get("EDGE_FACE_NATIVE", "1") != "0"

_local = threading.local()
_default = ENABLED


def enabled() -> bool:
    """Whether the native core runs: EDGE_FACE_NATIVE (or set_enabled), overridden in this thread by use_native."""
    return getattr(_local, "enabled", _default)


def set_enabled(flag: bool) -> None:
    """Native core on or off for the whole process (threads inside use_native keep their own setting)."""
    global _default
    if flag and not AVAILABLE:
        raise RuntimeError("the native extension edge_face._native is not built")
    _default = bool(flag)


@contextlib.contextmanager
def use_native(flag: bool) -> Iterator[None]:
    """Run the block with the native core on or off (this thread only)."""
    if flag and not AVAILABLE:
        raise RuntimeError("the native extension edge_face._native is not built")
    before = getattr(_local, "enabled", None)
    _local.enabled = bool(flag)
    try:
        yield
    finally:
        if before is None:
            del _local.enabled
        else:
            _local.enabled = before


def _target(spec: InputSpec) -> tuple[np.ndarray, tuple]:
    out = np.empty(spec.shape, np.dtype(spec.dtype))
    return out, (out, spec.lut, list(spec.src), spec.nchw, 0, 1 if spec.mirror else -1)


def face_tensors(frame: np.ndarray, layout: str, matrix: np.ndarray, specs: list[InputSpec]) -> list[np.ndarray]:
    """Each model's input tensor for the face that `matrix` (2 x 3, frame -> crop, as for cv2.warpAffine) maps
    onto the crop. One warp per crop size, written to every tensor of that size."""
    if not enabled():
        return reference.face_tensors(frame, layout, matrix, specs)
    bgr = check_frame(frame, layout)
    m = np.ascontiguousarray(matrix, np.float64)
    out: list[np.ndarray | None] = [None] * len(specs)
    for size in dict.fromkeys((s.width, s.height) for s in specs):
        targets = []
        for i, spec in enumerate(specs):
            if (spec.width, spec.height) == size:
                out[i], t = _target(spec)
                targets.append(t)
        _native.warp_affine(frame, list(bgr), m, size[0], size[1], targets)
    return out  # type: ignore[return-value]


_CROP_SPECS: dict[tuple[int, int], InputSpec] = {}


def crop(frame: np.ndarray, layout: str, matrix: np.ndarray, width: int = 112, height: int = 112) -> np.ndarray:
    """The aligned (height, width, 3) BGR uint8 crop itself (cv2.warpAffine's bytes)."""
    spec = _CROP_SPECS.get((width, height))
    if spec is None:  # uint8 with scale 1, zero point 0: the pixel values unchanged
        spec = _CROP_SPECS.setdefault((width, height), InputSpec(height=height, width=width, order="bgr",
                                                                   dtype="uint8", scale=1.0))
    return face_tensors(frame, layout, matrix, [spec])[0][0]


def letterbox(frame: np.ndarray, layout: str, spec: InputSpec, size: tuple[int, int], interpolation: str) -> np.ndarray:
    """The detector input: `frame` resized to `size` = (w, h) with cv2's `interpolation` ("linear" or "area"; a
    copy when the size is the frame's own), at the top left of a (spec.height, spec.width) canvas, black
    elsewhere, normalised per `spec`."""
    if not enabled() or spec.mirror:
        return reference.letterbox(frame, layout, spec, size, interpolation)
    bgr = check_frame(frame, layout)
    h, w = frame.shape[:2]
    sw, sh = size
    if (sw, sh) == (w, h):
        mode = 0
    elif interpolation == "area" and sw <= w and sh <= h:
        mode = 2
    elif interpolation == "linear":
        # cv2.resize takes INTER_AREA for an exact halving (its 2x2 mean equals bilinear there)
        mode = 2 if (2 * sw == w and 2 * sh == h) else 1
    else:  # INTER_AREA enlarging is bilinear-like in OpenCV; not restated natively
        return reference.letterbox(frame, layout, spec, size, interpolation)
    out, t = _target(spec)
    _native.letterbox(frame, list(bgr), sw, sh, mode, t)
    return out


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """N x M cosine similarities of the rows of `a` and `b`."""
    if enabled():
        return _native.cosine_matrix(np.ascontiguousarray(a, np.float32), np.ascontiguousarray(b, np.float32))
    return reference.cosine_matrix(a, b)


def interp(x: np.ndarray | float, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """numpy.interp(x, xp, fp) for increasing xp, as float64 (the calibrated-score map)."""
    if enabled() and len(xp) >= 2:
        return _native.interp(np.asarray(x, np.float64), np.ascontiguousarray(xp, np.float64),
                              np.ascontiguousarray(fp, np.float64))
    return reference.interp(x, xp, fp)
