"""The input contract of the models: which frames come in (pixel layouts) and which tensor each model takes.

Its own module because three places share it: pipeline/ builds an InputSpec per model from the interpreter,
edge_face.native fills those tensors (fast path or reference), and the tests and benchmarks state cases in it.
Plain types and their arithmetic only: NumPy, no OpenCV, no model.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

# Channel layouts of a decoded frame, named by byte order in memory: the index of B, G and R in a pixel, and
# the number of channels. picamera2 names its formats by the 32-bit word instead (little-endian): see
# PICAMERA2_FORMATS.
LAYOUTS: dict[str, tuple[tuple[int, int, int], int]] = {
    "bgr": ((0, 1, 2), 3),
    "rgb": ((2, 1, 0), 3),
    "bgrx": ((0, 1, 2), 4),
    "rgbx": ((2, 1, 0), 4),
    "xbgr": ((1, 2, 3), 4),
    "xrgb": ((3, 2, 1), 4),
}
PICAMERA2_FORMATS = {"RGB888": "bgr", "BGR888": "rgb", "XRGB8888": "bgrx", "XBGR8888": "rgbx"}

_QRANGE = {"int8": (-128, 127), "uint8": (0, 255)}


def layout_of(name: str) -> tuple[tuple[int, int, int], int]:
    """(B, G, R indices, channels) of a layout named as in LAYOUTS or by its picamera2 format."""
    key = PICAMERA2_FORMATS.get(name, name).lower()
    if key not in LAYOUTS:
        raise ValueError(f"unknown pixel layout {name!r}: use one of {sorted(LAYOUTS)} or {sorted(PICAMERA2_FORMATS)}")
    return LAYOUTS[key]


def check_frame(frame: np.ndarray, layout: str) -> tuple[int, int, int]:
    """The B, G, R indices of a (H, W, C) uint8 frame in `layout`; ValueError if it does not fit."""
    bgr, channels = layout_of(layout)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != channels:
        raise ValueError(f"a {layout} frame is a (H, W, {channels}) uint8 array, got {frame.dtype} {frame.shape}")
    return bgr


@dataclass(frozen=True)
class InputSpec:
    """A model's input tensor: size, channel order, normalisation, element type and layout.

    Pixel values v (8-bit) become (v - mean[c]) / std[c] in float32, per model channel c; for an int8/uint8 tensor
    that value is then quantized as round(value / scale) + zero_point (half to even), clipped to the type's range.
    `mirror`: the batch holds two images, the second one the first mirrored left-right.
    """

    height: int
    width: int
    order: str = "rgb"  # the model's channel order: "rgb" or "bgr"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    dtype: str = "float32"  # "float32", "int8" or "uint8"
    scale: float = 0.0  # quantized tensors: real value = scale * (q - zero_point)
    zero_point: int = 0
    nchw: bool = False
    mirror: bool = False

    def __post_init__(self) -> None:
        if self.order not in ("rgb", "bgr"):
            raise ValueError(f"order must be rgb or bgr, not {self.order!r}")
        if self.dtype not in ("float32", "int8", "uint8"):
            raise ValueError(f"unsupported input type {self.dtype!r}")
        if self.dtype != "float32" and not self.scale > 0:
            raise ValueError(f"a {self.dtype} input needs its quantization scale")

    @property
    def batch(self) -> int:
        return 2 if self.mirror else 1

    @property
    def shape(self) -> tuple[int, int, int, int]:
        n, h, w = self.batch, self.height, self.width
        return (n, 3, h, w) if self.nchw else (n, h, w, 3)

    @property
    def src(self) -> tuple[int, int, int]:
        """For each model channel, which of B (0), G (1), R (2) it takes."""
        return (2, 1, 0) if self.order == "rgb" else (0, 1, 2)

    def values(self, bgr: np.ndarray) -> np.ndarray:
        """(..., 3) BGR uint8 -> (..., 3) tensor values in the model's channel order: THE normalisation."""
        x = bgr[..., list(self.src)] if self.src != (0, 1, 2) else bgr
        y = x.astype(np.float32)
        mean, std = np.asarray(self.mean, np.float32), np.asarray(self.std, np.float32)
        if np.any(mean != 0):
            y = y - mean
        if np.any(std != 1):
            y = y / std
        if self.dtype == "float32":
            return y
        lo, hi = _QRANGE[self.dtype]
        q = np.rint(y.astype(np.float64) / self.scale) + self.zero_point
        return np.clip(q, lo, hi).astype(self.dtype)

    @cached_property
    def lut(self) -> np.ndarray:
        """(3, 256): model channel c, 8-bit value v -> tensor value; the same formula as `values`."""
        v = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
        return np.ascontiguousarray(self.values(v).T)

    def tensor(self, crop: np.ndarray) -> np.ndarray:
        """One (height, width, 3) BGR uint8 image -> the model's input tensor (`shape`)."""
        x = self.values(crop)
        if self.mirror:
            x = np.stack([x, x[:, ::-1]])
        else:
            x = x[None]
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2) if self.nchw else x)
