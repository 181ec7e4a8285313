"""Screen grid and moire: re-photographing a screen adds a periodic pattern (the display's pixel and sub-pixel grid,
or its beat against the camera's sampling) that shows as isolated peaks in the high frequencies of the face's
spectrum; skin and lens blur give a smooth fall-off instead. The cue is the peakiness of that band.

Per sample (every MOIRE_EVERY-th, analyse.py), a square of the face's centre is cut at native resolution (never
upscaled: interpolation makes its own peaks) at the largest of 128, 64 or 32 pixels that fits in 0.7 face widths,
high-passed (the face's shape and shading are not texture), Hann-windowed, and log10(max / median) of the spectral
magnitude between 0.2 and 0.5 cycles per pixel is taken, leaving out the frequencies of the codecs' 8-pixel block
grid on the axes (k/8 cycles per pixel: every compressed video has them, live or not). The score is the median.

Measured (report of issue 13: liveness-dev and three generated sets, seeds 13, 29 and 47): liveness-dev live
0.78-1.36, generated live controls 0.60-1.05; generated screens 0.72-2.3 (above ~1.5 where the camera resolves their
grid; a screen whose grid is blurred away reads as live), prints and paper masks 0.61-1.18, liveness-dev's real
replays 0.84-1.14 (their grid is not resolved: MiniFASNet rejects them). Vetoed above 1.6 (fusion.json).
"""
from __future__ import annotations

import cv2
import numpy as np

from edge_face.pipeline.types import Face

SIZES = (128, 64, 32)
BAND = (0.2, 0.5)  # cycles per pixel


def _masks(n: int) -> np.ndarray:
    f = np.fft.fftfreq(n)
    fx, fy = np.meshgrid(f, f)
    r = np.sqrt(fx ** 2 + fy ** 2)
    blocks = np.zeros((n, n), bool)
    for k in (1, 2, 3, 4):
        for a, b in ((fx, fy), (fy, fx)):
            blocks |= (np.abs(np.abs(a) - k / 8) <= 1.5 / n) & (np.abs(b) <= 1.5 / n)
    return (r >= BAND[0]) & (r <= BAND[1]) & ~blocks


MASKS = {n: _masks(n) for n in SIZES}
WINDOWS = {n: np.outer(np.hanning(n), np.hanning(n)).astype(np.float32) for n in SIZES}


def measure(bgr: np.ndarray, face: Face) -> float | None:
    """log10 of (max / median) of the band's spectral magnitude on the central face region; None when the face is
    too small or the square leaves the frame."""
    x1, y1, x2, y2 = face.box
    n = next((s for s in SIZES if 0.7 * (x2 - x1) >= s), None)
    if n is None:
        return None
    l, t = int((x1 + x2) / 2 - n / 2), int((y1 + y2) / 2 - n / 2)
    if l < 0 or t < 0 or l + n > bgr.shape[1] or t + n > bgr.shape[0]:
        return None
    g = cv2.cvtColor(bgr[t:t + n, l:l + n], cv2.COLOR_BGR2GRAY).astype(np.float32)
    g -= cv2.GaussianBlur(g, (0, 0), 2.0)
    g = (g - g.mean()) * WINDOWS[n]
    mag = np.abs(np.fft.fft2(g))[MASKS[n]]
    return float(np.log10((mag.max() + 1e-6) / (np.median(mag) + 1e-6)))


def score(values: list[float]) -> float | None:
    """Median over the frames measured."""
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None
