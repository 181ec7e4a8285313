"""Calibrated SenseID score -> the similarity scale of another vendor's API, as data.

Huawei FRS documents one operating point only: "similarity > 0.93: generally the same person". We place it where
SenseID places its recommended 0.7 (false-accept rate 1/10,000, see calibrate.TABLE), so that a client moving
from one face of the API to the other keeps its security level. The map is monotone piecewise-linear through
the knots below and model-independent: it reads the *calibrated* score, which each model variant's own
calibration already ties to a false-accept rate, so a re-fitted model needs no change here.

With these knots FRS similarity s means FAR ~= 10^-(10 t - 3) for the SenseID score t = the inverse map of s,
e.g. s = 0.93 -> FAR 1e-4, s ~= 0.953 -> 1e-5, s ~= 0.977 -> 1e-6; below 0.93 the scale is stretched linearly
from 0 (so FRS's example of a non-match, 0.41, is a SenseID score of about 0.31).
"""
from __future__ import annotations

import numpy as np

# (SenseID calibrated score, FRS similarity): increasing, from (0, 0) to (1, 1).
FRS_KNOTS: tuple[tuple[float, float], ...] = ((0.0, 0.0), (0.7, 0.93), (1.0, 1.0))


def frs_similarity(score: float) -> float:
    """FRS `similarity` of a calibrated SenseID score (0..1 -> 0..1, monotone, 0.7 -> 0.93)."""
    xs, ys = zip(*FRS_KNOTS)
    return float(np.interp(float(score), xs, ys))
