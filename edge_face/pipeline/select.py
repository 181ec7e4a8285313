"""Which face is "the" face of a photo that holds several (API.md decision: the main face)."""
from __future__ import annotations

import numpy as np

from edge_face.pipeline.types import Face

# A face at the edge of the photo counts as if it were (1 - CENTRE_WEIGHT) of its size.
CENTRE_WEIGHT = 0.6


def main_face_index(faces: list[Face], width: int, height: int) -> int:
    """The largest face, weighted toward the image centre, so a bystander at the edge loses to the subject."""
    centre = np.array([width / 2.0, height / 2.0])
    half = min(width, height) / 2.0

    def weight(f: Face) -> float:
        size = np.sqrt(max(f.width, 0.0) * max(f.height, 0.0))
        mid = np.array([(f.box[0] + f.box[2]) / 2.0, (f.box[1] + f.box[3]) / 2.0])
        off = min(1.0, float(np.linalg.norm(mid - centre)) / half)
        return size * (1.0 - CENTRE_WEIGHT * off)

    return int(np.argmax([weight(f) for f in faces]))
