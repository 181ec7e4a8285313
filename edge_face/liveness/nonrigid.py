"""Non-rigid motion: what a face does that a sheet cannot. A print, a paper mask or a rigid mask moves as one
surface; lips and lids move against it. Per mesh, the face surface's homography (planarity.PLANE: oval, brow,
eye and mouth corners) from the middle mesh is removed, and what is left of the lips and eyelids is their own
motion (a turning head leaves some parallax too, but on the nose mostly). The score is log10 of the 75th
percentile, over those points' coordinates, of the 10-90 percentile range of that residual smoothed over 3 meshes
(landmark jitter is white, a blink or a word is not), over face width; None (undecided) under MIN_MESHES meshes.

A paper mask with eye holes shows real blinks through the holes; its mouth and cheeks still cannot move, which is
why the lips are in the point set and the score is not the eyes' alone.

Measured (report of issue 13): liveness-dev live -1.98..-0.57 (median -1.2), dev replays -1.27..-0.69 (they
replay live faces), generated live controls -2.02..-0.71, paper masks -1.71..-1.26, prints -2.11..-1.35,
generated screens -2.14..-0.85. A still live face is as rigid as a print for 3 s: absence of motion is no
evidence, so the cue has no weight and no veto; it is reported, and the turn challenge asks for motion instead.
"""
from __future__ import annotations

import numpy as np

from edge_face.liveness.planarity import plane_residuals
from edge_face.liveness.types import Sample

LIPS_LIDS = np.array([13, 14, 78, 308, 61, 291, 0, 17, 81, 311, 178, 402, 159, 145, 386, 374, 158, 153, 385, 380])
MIN_MESHES = 6


def residuals(samples: list[Sample]) -> np.ndarray | None:
    """(meshes, 2 x points) residual of the lips and lids from the face surface's homography, over face width."""
    meshes = [s.points for s in samples if s.points is not None]
    if len(meshes) < MIN_MESHES:
        return None
    out = [r.ravel() for r, _ in plane_residuals(meshes, LIPS_LIDS)]
    return np.array(out) if len(out) >= MIN_MESHES else None


def score(samples: list[Sample]) -> float | None:
    res = residuals(samples)
    if res is None:
        return None
    k = np.ones(3) / 3
    smooth = np.stack([np.convolve(res[:, i], k, mode="valid") for i in range(res.shape[1])], axis=1)
    spread = np.percentile(smooth, 90, axis=0) - np.percentile(smooth, 10, axis=0)
    return float(np.log10(np.percentile(spread, 75) + 1e-4))
