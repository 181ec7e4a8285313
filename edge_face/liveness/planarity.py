"""Planarity: a printed photo or a screen is a plane, and every motion of a plane seen by a camera is a homography.
A head is not flat: when it turns, the nose tip shifts against the cheeks, ears and brow by ~depth x angle (3-D
parallax). Between frames ~0.4 s apart, a homography is fitted on the mesh's flat-ish points (face oval, eye and
mouth corners, brow) and the nose points' distance from where it maps them, over the face width, is the parallax.

Evidence needs motion: a pair where the face barely moved says nothing (a still live face and a still print look
alike), so only pairs whose mesh moved by at least MIN_MOTION of the face width count, and with fewer than
MIN_PAIRS of them the cue is *undecided* (None). A live head that moves shows parallax; a sheet that moves never.
"""
from __future__ import annotations

import cv2
import numpy as np

from edge_face.liveness.types import Sample

# MediaPipe canonical mesh indices: the face oval, outer/inner eye corners, brows, mouth corners, chin
PLANE = np.array([10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
                  176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109, 33, 133, 362, 263, 61,
                  291, 70, 105, 334, 300])
NOSE = np.array([1, 4, 5, 195, 197, 98, 327])  # tip, bridge and alae: the points furthest off the face's plane
GAP = 0.4  # seconds between the frames compared
MIN_MOTION = 0.02  # mean point displacement over face width for a pair to carry evidence
MIN_PAIRS = 3


def pair(a: np.ndarray, b: np.ndarray) -> tuple[float, float] | None:
    """(motion, parallax) between two meshes, both over b's face width; None when no homography fits."""
    width = float(np.ptp(b[:, 0])) or 1.0
    src, dst = a[PLANE, :2].astype(np.float32), b[PLANE, :2].astype(np.float32)
    h, _ = cv2.findHomography(src, dst, 0)
    if h is None:
        return None
    motion = float(np.mean(np.linalg.norm(b[:, :2] - a[:, :2], axis=1))) / width
    mapped = cv2.perspectiveTransform(a[NOSE, :2].astype(np.float32)[None], h)[0]
    plane_fit = cv2.perspectiveTransform(src[None], h)[0]
    noise = float(np.median(np.linalg.norm(plane_fit - dst, axis=1)))
    nose = float(np.median(np.linalg.norm(mapped - b[NOSE, :2], axis=1)))
    return motion, max(0.0, nose - noise) / width


def plane_residuals(meshes: list[np.ndarray], points: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Per mesh, where `points` are against the homography of the face's plane from the middle mesh: their offsets
    (k, 2) from where it maps them, and the plane's mean motion from that mesh, both over the mesh's face width.
    Meshes where no homography fits are left out. (A sheet leaves no offset; a head's nose, lips and lids do.)"""
    ref = meshes[len(meshes) // 2]
    src = ref[PLANE, :2].astype(np.float32)
    out = []
    for m in meshes:
        h, _ = cv2.findHomography(src, m[PLANE, :2].astype(np.float32), 0)
        if h is None:
            continue
        width = float(np.ptp(m[:, 0])) or 1.0
        mapped = cv2.perspectiveTransform(ref[points, :2].astype(np.float32)[None], h)[0]
        moved = float(np.mean(np.linalg.norm(m[PLANE, :2] - src, axis=1))) / width
        out.append(((m[points, :2] - mapped) / width, moved))
    return out


def offsets(samples: list[Sample]) -> tuple[np.ndarray, float] | None:
    """Per mesh, the nose's median offset (x, y, over face width) from the face plane's homography (from the
    middle mesh), and the largest plane motion from that mesh (its 90th percentile, over face width)."""
    meshes = [s.points for s in samples if s.points is not None]
    if len(meshes) < 2 * MIN_PAIRS:
        return None
    res = plane_residuals(meshes, NOSE)
    if len(res) < 2 * MIN_PAIRS:
        return None
    return np.array([np.median(r, axis=0) for r, _ in res]), float(np.percentile([m for _, m in res], 90))


def flow_score(samples: list[Sample]) -> float | None:
    """The same question on the face's own texture (optical flow, coupling.FlowMeter): log10 of the median
    residual of the face's tracked points from one homography, over the pairs that moved; None when still."""
    vals = [s.flow.plane for s in samples if s.flow is not None and s.flow.plane is not None
            and s.flow.motion >= MIN_MOTION / 2]
    if len(vals) < MIN_PAIRS:
        return None
    return float(np.log10(np.median(vals) + 1e-4))


def score(samples: list[Sample]) -> float | None:
    """log10 of the 3-D parallax: the 10-90 percentile range of the nose offset, smoothed over 3 meshes (landmark
    jitter is white, a turning head's parallax is smooth); None (undecided) when the face barely moved."""
    got = offsets(samples)
    if got is None:
        return None
    off, moved = got
    if moved < MIN_MOTION:
        return None
    k = np.ones(3) / 3
    smooth = np.stack([np.convolve(off[:, i], k, mode="valid") for i in range(2)], axis=1)
    spread = np.percentile(smooth, 90, axis=0) - np.percentile(smooth, 10, axis=0)
    return float(np.log10(float(np.max(spread)) + 1e-3))
