"""Quarter-turn rotations for auto_rotate, and mapping boxes found in a rotated photo back to the original."""
from __future__ import annotations

import numpy as np

# np.rot90 turns counter-clockwise; upright first, then the sideways cases, then upside down.
TURNS = (0, 1, 3, 2)


def rotate(bgr: np.ndarray, turns: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(bgr, turns)) if turns % 4 else bgr


def box_to_original(box: np.ndarray, turns: int, width: int, height: int) -> np.ndarray:
    """A (x1, y1, x2, y2) box in the photo turned `turns` times -> the same box in the original (width x height)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    corners = np.array([[x1, y1], [x2, y2]])
    t = turns % 4
    if t == 1:
        pts = np.stack([width - corners[:, 1], corners[:, 0]], 1)
    elif t == 2:
        pts = np.stack([width - corners[:, 0], height - corners[:, 1]], 1)
    elif t == 3:
        pts = np.stack([corners[:, 1], height - corners[:, 0]], 1)
    else:
        pts = corners
    return np.concatenate([pts.min(0), pts.max(0)])

