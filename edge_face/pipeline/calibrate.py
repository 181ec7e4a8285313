"""Raw cosine -> calibrated score, so that a score threshold t means a false-accept rate of 10^-(10t - 3).

The map is monotonic piecewise-linear through knots (cosine, score) fitted on impostor pairs (see fit_knots) and
shipped as data with each model variant: it must be re-fitted whenever a model, its quantization or its
preprocessing changes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_face import native

# The vendor's table: score threshold -> false-accept rate.
TABLE = {0.4: 1e-1, 0.5: 1e-2, 0.6: 1e-3, 0.7: 1e-4, 0.8: 1e-5, 0.9: 1e-6}


def far_of_score(t: float) -> float:
    return 10.0 ** -(10.0 * t - 3.0)


@dataclass(frozen=True)
class Calibration:
    cosines: np.ndarray  # increasing
    scores: np.ndarray  # increasing, from 0 to 1

    @classmethod
    def from_dict(cls, data: dict) -> "Calibration":
        knots = np.asarray(data["knots"], np.float64)
        cal = cls(cosines=knots[:, 0], scores=knots[:, 1])
        if np.any(np.diff(cal.cosines) <= 0) or np.any(np.diff(cal.scores) < 0):
            raise ValueError("calibration knots must increase")
        return cal

    def to_dict(self) -> dict:
        return {"knots": [[round(float(c), 6), round(float(s), 6)] for c, s in zip(self.cosines, self.scores)]}

    def score(self, cosine: np.ndarray | float) -> np.ndarray:
        """The map (numpy.interp through the knots; edge_face.native runs it natively)."""
        return native.interp(cosine, self.cosines, self.scores)

    def cosine_at(self, score: float) -> float:
        """The raw cosine that a score threshold stands for (for clients that want both)."""
        return float(np.interp(score, self.scores, self.cosines))


def fit_knots(impostor_cosines: np.ndarray, step: float = 0.025, min_tail: int = 200, top: float = 0.95) -> Calibration:
    """Fit knots so that P(score >= t | impostor) = 10^-(10t-3).

    Quantiles are used directly where at least `min_tail` impostor pairs lie above them; further out the tail is
    extrapolated with a straight line in (cosine, log10 FAR) fitted on the last decade that has the data, which is
    how far-tail rates are estimated from a few million pairs without chasing single outliers. Knots stop at `top`
    and the last stretch runs linearly to (1, 1), so genuine pairs keep distinct scores instead of all saturating.
    """
    c = np.sort(np.asarray(impostor_cosines, np.float64))
    n = len(c)
    # t = 0.3 is FAR 1: the lowest impostor similarity.
    ts = np.round(np.arange(0.3 + step, top + 1e-9, step), 6)
    knots_c, knots_t = [max(-1.0, c[0] - 1e-6)], [0.3]
    measured = [(t, far_of_score(t)) for t in ts if far_of_score(t) * n >= min_tail]
    for t, far in measured:
        knots_c.append(float(np.quantile(c, 1.0 - far, method="linear")))
        knots_t.append(float(t))
    # tail: fit log10(FAR) = a + b * cosine over the last decade of measured FAR
    lo = far_of_score(measured[-1][0]) * 10
    hi = far_of_score(measured[-1][0])
    sel = (np.arange(n)[::-1] + 1) / n  # empirical FAR of each sorted cosine
    mask = (sel <= lo) & (sel >= hi)
    b, a = np.polyfit(c[mask], np.log10(sel[mask]), 1)
    for t in ts:
        if t > measured[-1][0] + 1e-9:
            cos_t = (np.log10(far_of_score(t)) - a) / b
            if cos_t >= 1.0 or cos_t <= knots_c[-1]:
                break
            knots_c.append(float(cos_t))
            knots_t.append(float(t))
    knots_c.append(1.0)
    knots_t.append(1.0)
    # scores below 0.3 (more similar to nothing than any impostor) map linearly from cosine -1
    if knots_c[0] > -1.0:
        knots_c.insert(0, -1.0)
        knots_t.insert(0, 0.0)
    return Calibration(np.asarray(knots_c), np.asarray(knots_t))


def measured_far(impostor_scores: np.ndarray, thresholds=tuple(TABLE)) -> dict[str, dict[str, float]]:
    """FAR actually seen at each table threshold, with the table's value beside it."""
    s = np.asarray(impostor_scores)
    out = {}
    for t in thresholds:
        k = int((s >= t).sum())
        out[f"{t:.1f}"] = {"table": TABLE[t], "measured": k / len(s) if len(s) else float("nan"), "pairs_above": k,
                           "pairs": int(len(s))}
    return out
