"""`edge-face bench pose`: roll against exactly known in-plane rotations, yaw sign on mirrored pairs.

For each photo of DIR (LFW layout; the held-out half of the occlusion fit split, though pose fits nothing): the
main face's pose, then the photo rotated about the face centre by a known angle (cycling through ANGLES, on a
canvas large enough to keep every pixel) and its pose again: the roll must change by exactly that angle. The
mirrored photo must give the opposite yaw; the sign is only meaningful away from frontal, so it is scored on faces
with |yaw| >= YAW_MIN in the original.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from edge_face.imaging import decode_image
from edge_face_tools.occlusion import main_face, split_photos

ANGLES = (-30.0, -20.0, -10.0, -5.0, 5.0, 10.0, 20.0, 30.0)
YAW_MIN = 5.0


def rotate_about(img: np.ndarray, centre: tuple[float, float], degrees: float) -> np.ndarray:
    """The photo turned by `degrees` (counter-clockwise on screen, as cv2.getRotationMatrix2D) on a bigger canvas."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D(centre, degrees, 1.0)
    side = int(np.ceil(np.hypot(h, w)))
    m[:, 2] += (side - w) / 2, (side - h) / 2
    return cv2.warpAffine(img, m, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def _pose(service, img: np.ndarray):
    face = main_face(service, img)
    if face is None:
        return None
    from edge_face.pipeline.quality import head_pose

    return head_pose(service.quality_analyser.mesh.run(img, face).points)


def run(data: Path, service, limit: int | None = None, progress: bool = False) -> dict:
    paths = split_photos(data, False, limit)
    roll_err, yaw_pairs, ms = [], [], []
    missing = 0
    for i, rel in enumerate(paths):
        img = decode_image((data / rel).read_bytes())
        t0 = time.perf_counter()
        base = _pose(service, img)
        ms.append((time.perf_counter() - t0) * 1e3)
        if base is None:
            missing += 1
            continue
        face = main_face(service, img)
        centre = (float(face.box[0] + face.box[2]) / 2, float(face.box[1] + face.box[3]) / 2)
        angle = ANGLES[i % len(ANGLES)]
        turned = _pose(service, rotate_about(img, centre, angle))
        mirrored = _pose(service, np.ascontiguousarray(img[:, ::-1]))
        if turned is None or mirrored is None:
            missing += 1
            continue
        # counter-clockwise on screen = clockwise-negative in the roll convention (y down): roll changes by -angle
        delta = (turned.roll - base.roll + 180) % 360 - 180
        roll_err.append(abs(delta + angle))
        yaw_pairs.append((base.yaw, mirrored.yaw))
        if progress and (i + 1) % 250 == 0:
            print(f"  {i + 1}/{len(paths)} photos", flush=True)
    away = [(a, b) for a, b in yaw_pairs if abs(a) >= YAW_MIN]
    err = np.array(roll_err) if roll_err else np.zeros(1)
    return {
        "photos": len(paths), "limit": limit, "angles": list(ANGLES), "missing": missing,
        "roll_error_deg": {"median": float(np.median(err)), "p90": float(np.quantile(err, 0.9)),
                           "p99": float(np.quantile(err, 0.99)), "max": float(err.max()), "n": len(roll_err)},
        "yaw_mirror": {
            "pairs": len(yaw_pairs),
            "sign_flips_all": float(np.mean([np.sign(a) == -np.sign(b) for a, b in yaw_pairs])) if yaw_pairs else None,
            f"pairs_abs_yaw_ge_{YAW_MIN:g}": len(away),
            f"sign_flips_abs_yaw_ge_{YAW_MIN:g}": float(np.mean([np.sign(a) == -np.sign(b) for a, b in away])) if away else None,
            "median_abs_yaw_sum": float(statistics.median(abs(a + b) for a, b in yaw_pairs)) if yaw_pairs else None,
        },
        "ms_detect_mesh_pose_median": statistics.median(ms) if ms else None,
    }
