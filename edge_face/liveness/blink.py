"""Blinks and mouth motion from the face mesh: a print cannot blink, and a still face that blinks once is alive.

Openness is the lid (or lip) gap over the eye (or mouth) width, so it does not change with distance or head turn;
the cue is the spread of openness over the video, robust to one bad frame (5th to 95th percentile).
"""
from __future__ import annotations

import numpy as np

from edge_face.liveness.types import Sample

# MediaPipe canonical topology: (upper, lower, corner, corner)
EYES = ((159, 145, 33, 133), (386, 374, 362, 263))
MOUTH = (13, 14, 78, 308)
MIN_FRAMES = 5


def openness(points: np.ndarray, upper: int, lower: int, c1: int, c2: int) -> float:
    gap = float(np.linalg.norm(points[upper, :2] - points[lower, :2]))
    width = float(np.linalg.norm(points[c1, :2] - points[c2, :2])) or 1.0
    return gap / width


def spreads(samples: list[Sample]) -> tuple[float, float] | None:
    """(eye openness spread, mouth openness spread) over the video."""
    pts = [s.points for s in samples if s.points is not None]
    if len(pts) < MIN_FRAMES:
        return None
    eyes = np.array([np.mean([openness(p, *e) for e in EYES]) for p in pts])
    mouth = np.array([openness(p, *MOUTH) for p in pts])
    spread = lambda x: float(np.percentile(x, 95) - np.percentile(x, 5))  # noqa: E731
    return spread(eyes), spread(mouth)


def score(samples: list[Sample]) -> float | None:
    """log10 of the larger of the eye spread and half the mouth spread (a mouth moves more than a lid)."""
    s = spreads(samples)
    if s is None:
        return None
    return float(np.log10(max(s[0], s[1] / 2) + 1e-4))
