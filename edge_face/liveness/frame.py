"""Presentation edges: the border of what is held up. A print has a paper edge, a screen a bezel: long straight
edges that frame the face on three or four sides at one to two face sizes, where a room rarely frames a face on
more than two (a door jamb, a shelf) and a face's own outline is curved.

Per sample (every FRAME_EVERY-th), on the flow meter's 240-px grey frame: Canny edges, probabilistic Hough
segments at least MIN_LENGTH face widths long, and the sides of the face box (left, right, above, below) that have
such a segment, parallel to that side within ANGLE degrees, between 0.05 and 2 face sizes out. The score is the
mean number of framed sides (0..4) over the samples measured; None (undecided) under MIN_SAMPLES of them.

Measured (tools: /tmp analysis of the cached samples, see the report of issue 13): liveness-dev live 0..3.0
(median 0.5; Tulip.mp4 3.0 before vertical curtains), dev screen replays 1.95..3.86, generated prints 0.9..3.4,
paper masks (cut to the face: no edge) 0..1.0, generated tablets (the screen fills the view) 0.8..2.6, live
controls 0..0.82. It separates the real replays from most live videos but with no margin (a curtain frames a face
as a bezel does), so it has no weight and no veto: it is reported for the fit and the log.
"""
from __future__ import annotations

import cv2
import numpy as np

from edge_face.liveness.types import Sample

FRAME_EVERY = 2
MIN_LENGTH = 0.6  # segment length, in face widths
ANGLE = 20.0  # degrees from the side's direction
REACH = 2.0  # how far out a side's segment may be, in face sizes
MIN_SAMPLES = 4


def measure(gray: np.ndarray, box: np.ndarray) -> int:
    """Sides of `box` (in `gray`'s pixels) framed by a long straight edge parallel to them."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = x2 - x1, y2 - y1
    edges = cv2.Canny(cv2.GaussianBlur(gray, (3, 3), 0), 40, 120)
    lines = cv2.HoughLinesP(edges, 1, np.pi / 180, 25, minLineLength=max(12, MIN_LENGTH * w), maxLineGap=3)
    if lines is None:
        return 0
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    sides = set()
    for a, b, c, d in lines.reshape(-1, 4):
        mx, my = (a + c) / 2, (b + d) / 2
        ang = abs(np.degrees(np.arctan2(d - b, c - a))) % 180
        if abs(ang - 90) < ANGLE and abs(my - cy) < 1.5 * h:
            if x2 + 0.05 * w < mx < x2 + REACH * w:
                sides.add("right")
            if x1 - REACH * w < mx < x1 - 0.05 * w:
                sides.add("left")
        if (ang < ANGLE or ang > 180 - ANGLE) and abs(mx - cx) < 1.5 * w:
            if y1 - 1.5 * h < my < y1 - 0.05 * h:
                sides.add("above")
            if y2 + 0.05 * h < my < y2 + REACH * h:
                sides.add("below")
    return len(sides)


def score(samples: list[Sample]) -> float | None:
    """Mean number of framed sides over the samples measured; None (undecided) with too few."""
    values = [s.frame for s in samples if s.frame is not None]
    return float(np.mean(values)) if len(values) >= MIN_SAMPLES else None
