"""The pulse in skin colour (remote photoplethysmography, CHROM of de Haan & Jeanne 2013).

Blood volume changes the skin's colour by a fraction of a grey level at the heart rate; a print has no pulse, and a
screen replays at best a washed-out, re-compressed copy of one. The cue is how much the strongest frequency in the
0.7-3 Hz band (42-180 beats per minute) stands out of the band: the signal-to-noise ratio in dB.
"""
from __future__ import annotations

import numpy as np

from edge_face.liveness.types import Sample
from edge_face.pipeline.types import Face

RATE = 8.0  # Hz after resampling (the sampling rate of the video path)
MIN_SECONDS = 4.0
BAND = (0.7, 3.0)
# skin regions as fractions of the face box: forehead, left cheek, right cheek
REGIONS = ((0.30, 0.08, 0.70, 0.22), (0.15, 0.52, 0.38, 0.72), (0.62, 0.52, 0.85, 0.72))


def measure(bgr: np.ndarray, face: Face) -> np.ndarray | None:
    """Mean B, G, R over the skin regions of the face box."""
    x1, y1, x2, y2 = face.box
    w, h = x2 - x1, y2 - y1
    parts = []
    for a, b, c, d in REGIONS:
        l, t = int(max(0, x1 + a * w)), int(max(0, y1 + b * h))
        r, bt = int(min(bgr.shape[1], x1 + c * w)), int(min(bgr.shape[0], y1 + d * h))
        if r - l >= 2 and bt - t >= 2:
            parts.append(bgr[t:bt, l:r].reshape(-1, 3))
    if not parts:
        return None
    return np.concatenate(parts).mean(axis=0)


def snr(times: np.ndarray, bgr: np.ndarray) -> float | None:
    if len(times) < 8 or times[-1] - times[0] < MIN_SECONDS:
        return None
    grid = np.arange(times[0], times[-1], 1.0 / RATE)
    rgb = np.stack([np.interp(grid, times, bgr[:, c]) for c in (2, 1, 0)], axis=1)
    rgb = rgb / (rgb.mean(axis=0) + 1e-6)
    x = 3 * rgb[:, 0] - 2 * rgb[:, 1]
    y = 1.5 * rgb[:, 0] + rgb[:, 1] - 1.5 * rgb[:, 2]
    s = x - (x.std() / (y.std() + 1e-9)) * y
    s = s - np.polyval(np.polyfit(np.arange(len(s)), s, 2), np.arange(len(s)))  # slow light drift
    power = np.abs(np.fft.rfft(s * np.hanning(len(s)))) ** 2
    freqs = np.fft.rfftfreq(len(s), 1.0 / RATE)
    band = (freqs >= BAND[0]) & (freqs <= BAND[1])
    if band.sum() < 4:
        return None
    peak = freqs[band][np.argmax(power[band])]
    near = band & (np.abs(freqs - peak) <= 0.15)
    db = 10 * np.log10(power[near].sum() / (power[band & ~near].sum() + 1e-12) + 1e-12)
    return float(np.clip(db, -10.0, 10.0))  # a flat (static, saturated) signal must not dominate a fit


def score(samples: list[Sample]) -> float | None:
    """SNR (dB) of the pulse over the tracked samples (None: shorter than 4 s)."""
    rows = [(s.t, s.skin) for s in samples if s.skin is not None]
    if not rows:
        return None
    return snr(np.array([r[0] for r in rows]), np.stack([r[1] for r in rows]))
