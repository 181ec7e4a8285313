"""Screen moire and print texture: re-photographing a screen or a print adds periodic patterns (the pixel grid
beating against the camera's, halftone dots) that show as isolated peaks in the high frequencies of the face's
spectrum; skin and lens blur give a smooth fall-off instead. The cue is the peakiness of that band.
"""
from __future__ import annotations

import cv2
import numpy as np

from edge_face.pipeline.types import Face

SIZE = 128  # the face region is cut at native resolution (moire does not survive down-scaling), at most this


def _band_mask() -> np.ndarray:
    f = np.fft.fftfreq(SIZE)
    r = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    return (r >= 0.15) & (r <= 0.45)


BAND = _band_mask()


def measure(bgr: np.ndarray, face: Face) -> float | None:
    """log10 of (max / median) of the band's spectral magnitude on the central face region."""
    x1, y1, x2, y2 = face.box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half = min(SIZE, x2 - x1) / 2
    l, t = int(cx - half), int(cy - half)
    if l < 0 or t < 0 or half < 16:
        return None
    gray = cv2.cvtColor(bgr[t:t + int(2 * half), l:l + int(2 * half)], cv2.COLOR_BGR2GRAY)
    if gray.shape[0] < 32 or gray.shape[1] < 32:
        return None
    if gray.shape != (SIZE, SIZE):
        gray = cv2.resize(gray, (SIZE, SIZE), interpolation=cv2.INTER_NEAREST)
    g = gray.astype(np.float32)
    g = (g - g.mean()) * np.outer(np.hanning(SIZE), np.hanning(SIZE))
    mag = np.abs(np.fft.fft2(g))[BAND]
    return float(np.log10((mag.max() + 1e-6) / (np.median(mag) + 1e-6)))


def score(values: list[float]) -> float | None:
    """Median over the frames measured."""
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None
