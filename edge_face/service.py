"""The use cases, framework-free: what the HTTP layer, the CLI and the benchmarks call.

Images arrive decoded (BGR uint8, EXIF orientation applied, see edge_face.imaging); rectangles leave as integer
[left, top, right, bottom] in the pixel frame of the image as given.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Rect = tuple[int, int, int, int]


class NoFaceFound(Exception):
    """No face in one of the photos (SenseID 4000). `which` is "first", "second" or "image"."""

    def __init__(self, which: str) -> None:
        super().__init__(f"no face found in the {which} image")
        self.which = which


@dataclass(frozen=True)
class PairResult:
    """1:1 verification of the main face of each photo."""

    score: float  # calibrated: P(score >= t | different people) ~= 10^-(10t-3)
    cosine: float  # raw similarity of the embeddings, for clients that want it
    first_rect: Rect
    second_rect: Rect


@dataclass(frozen=True)
class AllPairsResult:
    """Every face of the first photo against every face of the second (rows = first, columns = second)."""

    scores: list[list[float]]
    first_rects: list[Rect]
    second_rects: list[Rect]
