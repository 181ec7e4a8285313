"""Finds the main face in the first frames and follows it (box overlap), so that cues see one person throughout."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_face.pipeline.detect import YuNetDetector
from edge_face.pipeline.select import main_face_index
from edge_face.pipeline.types import Face

MIN_IOU = 0.3  # below this overlap with the last box, a face is somebody else (or a detection elsewhere)
MAX_MISSES = 5  # frames in a row without the face, after which the main face is chosen afresh


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


@dataclass
class FaceTracker:
    """One face per frame or None; a lost face is re-acquired only where it was (a kiosk sees one subject)."""

    detector: YuNetDetector
    last: np.ndarray | None = None
    misses: int = 0

    def update(self, bgr: np.ndarray) -> Face | None:
        faces = self.detector.detect(bgr)
        if not faces:
            return self._miss()
        if self.last is None:
            face = faces[main_face_index(faces, bgr.shape[1], bgr.shape[0])]
        else:
            overlaps = [iou(f.box, self.last) for f in faces]
            best = int(np.argmax(overlaps))
            if overlaps[best] < MIN_IOU:
                return self._miss()
            face = faces[best]
        self.last, self.misses = face.box.copy(), 0
        return face

    def _miss(self) -> None:
        self.misses += 1
        if self.misses >= MAX_MISSES:
            self.last = None
        return None
