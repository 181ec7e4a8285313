"""Non-rigid motion of the face mesh: a photo or a screen is a plane, and any motion of a plane seen by a camera
is a homography. A live head turning shows parallax (nose against cheeks) and expressions deform the mesh, so the
residual of the best homography between two frames' meshes, relative to the face size, is larger for a live face.
A replay of a moving person shows the same parallax on its screen: this cue separates prints and still replays only.
"""
from __future__ import annotations

import cv2
import numpy as np

from edge_face.liveness.types import Sample

SUBSET = np.arange(0, 468, 3)  # every third mesh point is plenty for an 8-parameter fit
MIN_PAIRS = 3


def residual(a: np.ndarray, b: np.ndarray) -> float:
    """RMS distance between b and the homography of a fitted to it, in units of b's face width."""
    src, dst = a[SUBSET, :2].astype(np.float32), b[SUBSET, :2].astype(np.float32)
    h, _ = cv2.findHomography(src, dst, 0)
    if h is None:
        return float("nan")
    mapped = cv2.perspectiveTransform(src[None], h)[0]
    width = float(np.ptp(dst[:, 0])) or 1.0
    return float(np.sqrt(np.mean(np.sum((mapped - dst) ** 2, axis=1))) / width)


def score(samples: list[Sample]) -> float | None:
    """log10 of the 75th percentile homography residual between frames ~0.5 s apart (None: too few meshes)."""
    meshes = [(s.t, s.points) for s in samples if s.points is not None]
    values = []
    j = 0
    for i, (t, a) in enumerate(meshes):
        while j < len(meshes) and meshes[j][0] < t + 0.5:
            j += 1
        if j >= len(meshes):
            break
        values.append(residual(a, meshes[j][1]))
    values = [v for v in values if np.isfinite(v)]
    if len(values) < MIN_PAIRS:
        return None
    return float(np.log10(np.percentile(values, 75) + 1e-5))
