"""The face record passed between pipeline steps."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Face:
    """A detected face in image pixels.

    box: (x1, y1, x2, y2) float; landmarks: (5, 2) float, in the ArcFace template's order: the eye on the image's
    left, the eye on the image's right, nose tip, mouth corner on the left, mouth corner on the right.
    """

    box: np.ndarray
    landmarks: np.ndarray
    score: float

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    def rect(self, image_width: int, image_height: int) -> tuple[int, int, int, int]:
        """Integer [left, top, right, bottom], clipped to the image."""
        x1, y1, x2, y2 = np.round(self.box).astype(int).tolist()
        return (max(0, x1), max(0, y1), min(image_width, x2), min(image_height, y2))
