"""What the equivalence checks of several families share: the fixture photos, OpenCV's reference detector and
alignment, the tolerances and the identity sanity check. Each family's own comparison lives in its module."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import cv2
import numpy as np

# Tolerances (measured differences are ~1e-5; these catch real breakage only).
RAW_ATOL = 1e-4
COSINE_MIN = 0.9999
# Real face photos from the project's pinned test fixtures (fetched by tests/fixtures.py if missing).
FIXTURES = ("obama.jpg", "obama2.jpg", "biden.jpg", "t1.jpg")


def fixture_images(names: tuple[str, ...] = FIXTURES) -> dict[str, np.ndarray]:
    from tests.fixtures import ensure

    folder = ensure()
    images = {}
    for name in names:
        img = cv2.imread(str(folder / name))
        if img is None:
            raise SystemExit(f"cannot read fixture {folder / name}")
        images[name] = img
    return images


def opencv_detector(onnx_path: Path) -> cv2.FaceDetectorYN:
    return cv2.FaceDetectorYN.create(str(onnx_path), "", (320, 320), 0.6, 0.3, 5000)


def detect_faces(det: cv2.FaceDetectorYN, img: np.ndarray) -> np.ndarray:
    """OpenCV's FaceDetectorYN rows (x, y, w, h, 5 landmarks, score), the reference the product must match."""
    det.setInputSize((img.shape[1], img.shape[0]))
    _, faces = det.detect(img)
    return np.zeros((0, 15), np.float32) if faces is None else faces


def aligned_crops(det: cv2.FaceDetectorYN, onnx_sface: Path, images: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every detected face as OpenCV aligns it for SFace (FaceRecognizerSF.alignCrop, 112x112 BGR).

    Loading the original SFace file works in OpenCV 5.0; only its feature() fails (see sface.check)."""
    rec = cv2.FaceRecognizerSF.create(str(onnx_sface), "")
    crops = {}
    for name, img in images.items():
        for i, face in enumerate(detect_faces(det, img)):
            crops[f"{name}#{i}"] = rec.alignCrop(img, face)
    return crops


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel(), b.ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def identity_sanity(embed: Callable[[np.ndarray], np.ndarray], crops: dict[str, np.ndarray]) -> dict[str, float]:
    """Obama vs his other photo must score above Obama vs Biden: catches a wrong colour order or normalisation."""
    e = {k: embed(crops[f"{k}#0"]) for k in ("obama.jpg", "obama2.jpg", "biden.jpg")}
    same, diff = cosine(e["obama.jpg"], e["obama2.jpg"]), cosine(e["obama.jpg"], e["biden.jpg"])
    if same <= diff + 0.2:
        raise SystemExit(f"identity sanity failed: same-person cosine {same:.3f}, different-person {diff:.3f}")
    return {"cosine_obama_obama2": round(same, 4), "cosine_obama_biden": round(diff, 4)}
