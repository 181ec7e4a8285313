"""Face-background coupling: in front of a fixed camera the room stays still while a head moves; a held print or
screen carries its own background (the photo's surroundings, the paper margin, the bezel, the fingers) along with
the face. Between consecutive samples, sparse optical flow (Lucas-Kanade, forward-backward checked) is measured on
corners of a small grey frame: the face's own motion (median flow inside the face box) and, in a ring around the
box (beside and above it: below is the torso, which follows a head), the fraction of points that move with the
face. A live face at a kiosk: ~0; a held print: ~1.

Evidence needs motion: only pairs where the face moved by at least MIN_MOTION of its width count. For an upload
the camera itself may be hand-held (everything moves): where the far background (outside the ring) moves by half
the face's motion or more, the pair says nothing either, unless the caller knows the camera is fixed (the kiosk's
own camera). Too few informative pairs: *undecided* (None).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge_face.pipeline.types import Face

SIDE = 240  # width of the grey frame the flow runs on
MIN_MOTION = 0.015  # face motion between samples, over the face width
MIN_RING = 6  # tracked ring points for a pair to count
MIN_PAIRS = 3
RING = (1.25, 2.4)  # inner and outer size of the ring, in face-box sizes about the box centre


@dataclass(frozen=True)
class FlowPair:
    """One pair of consecutive samples: face motion (over face width), the ring's follow fraction, the far
    background's motion relative to the face's."""

    motion: float
    follow: float | None
    far: float | None
    plane: float | None = None  # median residual of the face's points from one homography, over face width


class FlowMeter:
    """Keeps the previous sample's small grey frame and face box; `measure` gives the pair ending at this frame."""

    def __init__(self) -> None:
        self.prev: np.ndarray | None = None
        self.prev_box: np.ndarray | None = None

    def measure(self, bgr: np.ndarray, face: Face) -> FlowPair | None:
        scale = SIDE / bgr.shape[1]
        gray = cv2.cvtColor(cv2.resize(bgr, (SIDE, max(8, int(round(bgr.shape[0] * scale)))),
                                       interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        box = np.asarray(face.box, np.float32) * scale
        prev, prev_box = self.prev, self.prev_box
        self.prev, self.prev_box = gray, box
        if prev is None or prev.shape != gray.shape:
            return None
        return measure_pair(prev, gray, prev_box)


def _regions(pts: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    w, h = box[2] - box[0], box[3] - box[1]
    dx, dy = np.abs(pts[:, 0] - cx) / (w / 2), np.abs(pts[:, 1] - cy) / (h / 2)
    inside = np.maximum(dx, dy)
    face = (dx < 0.7) & (dy < 0.8)
    below = pts[:, 1] > box[3]
    ring = (inside >= RING[0]) & (inside <= RING[1]) & ~below
    far = (inside > RING[1] + 0.3) & ~below
    return face, ring, far


def measure_pair(prev: np.ndarray, gray: np.ndarray, box: np.ndarray) -> FlowPair | None:
    pts = cv2.goodFeaturesToTrack(prev, maxCorners=300, qualityLevel=0.005, minDistance=4, blockSize=5)
    if pts is None or len(pts) < 8:
        return None
    lk = dict(winSize=(11, 11), maxLevel=2, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))
    nxt, st, _ = cv2.calcOpticalFlowPyrLK(prev, gray, pts, None, **lk)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(gray, prev, nxt, None, **lk)
    ok = (st[:, 0] == 1) & (st2[:, 0] == 1) & (np.linalg.norm((back - pts)[:, 0], axis=1) < 0.5)
    p, v = pts[ok, 0], (nxt - pts)[ok, 0]
    face, ring, far = _regions(p, box)
    if face.sum() < 4:
        return None
    width = float(box[2] - box[0]) or 1.0
    d = np.median(v[face], axis=0)
    mag = float(np.linalg.norm(d))
    follow = None
    if ring.sum() >= MIN_RING and mag > 0:
        follow = float(np.mean(np.linalg.norm(v[ring] - d, axis=1) < 0.5 * mag))
    plane = None
    if face.sum() >= 12:
        src, dst = p[face].astype(np.float32), (p[face] + v[face]).astype(np.float32)
        hmat, _ = cv2.findHomography(src, dst, 0)
        if hmat is not None:
            res = np.linalg.norm(cv2.perspectiveTransform(src[None], hmat)[0] - dst, axis=1)
            plane = float(np.median(res)) / width
    far_rel = float(np.linalg.norm(np.median(v[far], axis=0)) / mag) if far.sum() >= MIN_RING and mag > 0 else None
    return FlowPair(motion=mag / width, follow=follow, far=far_rel, plane=plane)


def score(pairs: list[FlowPair | None], fixed_camera: bool = False) -> float | None:
    """Mean follow fraction over the informative pairs (0: the room stays still, 1: it moves with the face);
    None (undecided) with fewer than MIN_PAIRS of them."""
    useful = [p.follow for p in pairs if p is not None and p.follow is not None and p.motion >= MIN_MOTION
              and (fixed_camera or (p.far is not None and p.far < 0.5))]
    if len(useful) < MIN_PAIRS:
        return None
    return float(np.mean(useful))
