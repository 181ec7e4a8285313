"""Per-face quality measures of SenseID §2.1 (API.md), from the face mesh, the aligned crop and the rectangle.

Conventions (degrees): roll > 0 when the eye line turns clockwise in the photo (y grows downwards); yaw > 0 when
the nose points towards the photo's right; pitch > 0 when the face looks up. Pose comes from the 3-D mesh: the
left-to-right and forehead-to-chin axes of the face give a rotation matrix, read as roll, yaw, pitch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from edge_face.pipeline import mesh as M
from edge_face.pipeline.occlusion import OcclusionModel
from edge_face.pipeline.types import Face

Rect = tuple[int, int, int, int]

# Symmetric pairs (image-left point, image-right point) whose differences define the face's left-right axis.
_PAIRS = ((M.EYE_OUTER_LEFT, M.EYE_OUTER_RIGHT), (M.CHEEK_LEFT, M.CHEEK_RIGHT), (61, 291), (127, 356))


@dataclass(frozen=True)
class Pose:
    yaw: float
    pitch: float
    roll: float


def head_pose(points: np.ndarray) -> Pose:
    """Yaw, pitch, roll (degrees) of a 468 x 3 mesh in photo pixels."""
    p = np.asarray(points, np.float64)
    ex = sum(p[b] - p[a] for a, b in _PAIRS)
    ex /= np.linalg.norm(ex)
    ey = p[M.CHIN] - p[M.FOREHEAD]
    ey -= ex * (ey @ ex)
    ey /= np.linalg.norm(ey)
    roll = math.degrees(math.atan2(ex[1], ex[0]))
    yaw = math.degrees(math.asin(float(np.clip(ex[2], -1, 1))))
    pitch = math.degrees(math.asin(float(np.clip(-ey[2], -1, 1))))
    return Pose(yaw=yaw, pitch=pitch, roll=roll)


def mouth_open(points: np.ndarray, closed: float, wide: float) -> float:
    """Inner-lip gap over inner mouth width, mapped linearly from `closed` (0) to `wide` (1)."""
    p = np.asarray(points, np.float64)[:, :2]
    gap = np.linalg.norm(p[M.LIP_LOWER_INNER] - p[M.LIP_UPPER_INNER])
    width = np.linalg.norm(p[M.MOUTH_RIGHT] - p[M.MOUTH_LEFT])
    ratio = gap / max(width, 1e-6)
    return float(np.clip((ratio - closed) / (wide - closed), 0.0, 1.0))


def _inner(crop: np.ndarray) -> np.ndarray:
    """The skin part of an aligned 112x112 crop: eyes to chin, cheek to cheek (no background, little hair)."""
    s = crop.shape[0] / 112.0
    return crop[int(40 * s):int(104 * s), int(24 * s):int(88 * s)]


def brightness(crop: np.ndarray) -> float:
    """Mean luma of the face, 0..255 mapped to -1..1 (0 = mid grey)."""
    gray = cv2.cvtColor(_inner(crop), cv2.COLOR_BGR2GRAY)
    return float(gray.mean() / 127.5 - 1.0)


def laplacian_variance(crop: np.ndarray) -> float:
    """Variance of the Laplacian of the face at the aligned crop's fixed scale (detail, not photo size)."""
    gray = cv2.cvtColor(_inner(crop), cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def sharpness(crop: np.ndarray, half: float) -> float:
    """0..1, v / (v + half): `half` is the Laplacian variance that scores 0.5 (fitted on a face folder)."""
    v = laplacian_variance(crop)
    return float(v / (v + half))


def distance2center(rect: Rect, width: int, height: int) -> float:
    """max(1 - |face centre - image centre| / short side, 0) (API.md §2.1)."""
    fx, fy = (rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2
    d = math.hypot(fx - width / 2, fy - height / 2)
    return max(1.0 - d / min(width, height), 0.0)


def size(rect: Rect, width: int, height: int) -> float:
    """Face rectangle area over image area."""
    return max(0, rect[2] - rect[0]) * max(0, rect[3] - rect[1]) / float(width * height)


@dataclass(frozen=True)
class FaceQuality:
    """Everything §2.1 reports for one face."""

    rect: Rect
    pose: Pose
    occlusion: dict[str, float]  # left_eye, right_eye, nose, mouth, total; 1 = visible
    distance2center: float
    size: float
    brightness: float
    sharpness: float
    mouth_open: float


class QualityAnalyser:
    """Mesh + occlusion model + the constants of models/quality/quality.json, applied to one detected face."""

    def __init__(self, mesh: M.FaceMesh, occlusion: OcclusionModel, params: dict) -> None:
        self.mesh = mesh
        self.occlusion = occlusion
        self.sharpness_half = float(params["sharpness"]["half"])
        self.mouth_closed = float(params["mouth_open"]["closed_ratio"])
        self.mouth_wide = float(params["mouth_open"]["wide_ratio"])

    @classmethod
    def from_dict(cls, mesh: M.FaceMesh, params: dict) -> "QualityAnalyser":
        return cls(mesh, OcclusionModel.from_dict(params["occlusion"]), params)

    def analyse(self, bgr: np.ndarray, face: Face, crop: np.ndarray, rect: Rect) -> FaceQuality:
        """`crop` is the face aligned to the 112x112 template (the embedder's input); `rect` is in `bgr`'s frame."""
        h, w = bgr.shape[:2]
        m = self.mesh.run(bgr, face)
        return FaceQuality(
            rect=rect,
            pose=head_pose(m.points),
            occlusion=self.occlusion.visibility(crop),
            distance2center=distance2center(rect, w, h),
            size=size(rect, w, h),
            brightness=brightness(crop),
            sharpness=sharpness(crop, self.sharpness_half),
            mouth_open=mouth_open(m.points, self.mouth_closed, self.mouth_wide),
        )
