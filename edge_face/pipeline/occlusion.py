"""Per-region occlusion from the aligned 112x112 face: gradient and colour evidence, one logistic model per region.

Why this evidence: an eye, a nose or a mouth has a typical edge structure (HOG of its patch in the aligned face) and
skin-to-feature colour contrast (Lab statistics of the patch against the cheeks). A bar, sunglasses, a mask or a
hand replaces both. Every region's model sees the features of all four patches, so context (a mask hides nose and
mouth together) helps. Weights, feature standardisation and the refusal thresholds are data
(models/quality/occlusion.json), fitted by `edge-face fit-occlusion --data DIR` on synthetic occlusions of real
faces (edge_face_tools.occluders). Cost: < 1 ms per face on the crop the embedder already uses.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

REGIONS = ("left_eye", "right_eye", "nose", "mouth")
# Patches in the 112x112 ArcFace template (x1, y1, x2, y2). "left"/"right" are the person's: the left eye is on
# the photo's right (template point 1 at x = 73.5).
PATCHES = {
    "left_eye": (56, 36, 92, 66),
    "right_eye": (20, 36, 56, 66),
    "nose": (40, 52, 72, 84),
    "mouth": (32, 78, 80, 106),
}
CHEEKS = ((18, 66, 34, 86), (78, 66, 94, 86))
BINS = 9
_CELL = (np.arange(32)[:, None] // 8) * 4 + np.arange(32)[None, :] // 8  # cell index of each pixel


def hog(gray32: np.ndarray) -> np.ndarray:
    """HOG of a 32x32 patch as Dalal-Triggs (OpenCV 5 dropped cv2.HOGDescriptor): 8-px cells, 9 unsigned
    orientation bins (linear interpolation between bins), 2x2-cell blocks with stride 1 cell, L2-Hys -> 324."""
    g = gray32.astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=1)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=1)
    mag = np.sqrt(gx * gx + gy * gy)
    ang = (np.degrees(np.arctan2(gy, gx)) % 180.0) / (180.0 / BINS)
    lo = np.floor(ang).astype(np.int64) % BINS
    frac = ang - np.floor(ang)
    idx = _CELL * BINS
    hist = (np.bincount((idx + lo).reshape(-1), (mag * (1 - frac)).reshape(-1), 16 * BINS)
            + np.bincount((idx + (lo + 1) % BINS).reshape(-1), (mag * frac).reshape(-1), 16 * BINS))
    hist = hist.reshape(4, 4, BINS)
    blocks = []
    for by in range(3):
        for bx in range(3):
            v = hist[by:by + 2, bx:bx + 2].reshape(-1)
            v = np.minimum(v / (np.linalg.norm(v) + 1e-3), 0.2)
            blocks.append(v / (np.linalg.norm(v) + 1e-3))
    return np.concatenate(blocks)


def _patch(img: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x1, y1, x2, y2 = box
    return img[y1:y2, x1:x2]


def features(crop: np.ndarray) -> np.ndarray:
    """Feature vector of an aligned 112x112 BGR face (float32): per region HOG (324) + Lab mean/std (6) + Lab mean
    minus the cheeks' (3)."""
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    lab = cv2.cvtColor(crop, cv2.COLOR_BGR2LAB).astype(np.float32)
    cheeks = np.concatenate([_patch(lab, b).reshape(-1, 3) for b in CHEEKS]).mean(0)
    out = []
    for name in REGIONS:
        box = PATCHES[name]
        g = cv2.resize(_patch(gray, box), (32, 32), interpolation=cv2.INTER_AREA)
        out.append(hog(g))
        px = _patch(lab, box).reshape(-1, 3)
        mean = px.mean(0)
        out.append(np.concatenate([mean / 255.0, px.std(0) / 64.0, (mean - cheeks) / 64.0]))
    return np.concatenate(out).astype(np.float32)


@dataclass(frozen=True)
class OcclusionModel:
    """Standardise -> per-region logistic P(occluded); visibility = 1 - P; a region is covered below its threshold."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # regions x features
    bias: np.ndarray  # regions
    min_visible: dict[str, float]

    @classmethod
    def from_dict(cls, data: dict) -> "OcclusionModel":
        m = data["model"]
        return cls(mean=np.asarray(m["mean"], np.float32), scale=np.asarray(m["scale"], np.float32),
                   weights=np.asarray([m["weights"][r] for r in REGIONS], np.float32),
                   bias=np.asarray([m["bias"][r] for r in REGIONS], np.float32),
                   min_visible={r: float(data["thresholds"]["min_visible"][r]) for r in REGIONS})

    def visibility_of(self, feats: np.ndarray) -> np.ndarray:
        """N x 4 (REGIONS order), 1 = clearly visible."""
        z = (np.atleast_2d(feats) - self.mean) / self.scale
        logits = z @ self.weights.T + self.bias
        return 1.0 / (1.0 + np.exp(np.clip(logits, -50, 50)))

    def visibility(self, crop: np.ndarray) -> dict[str, float]:
        """Per region plus "total" (the least visible region: the face is as usable as its most hidden part)."""
        v = self.visibility_of(features(crop))[0]
        out = {r: float(v[i]) for i, r in enumerate(REGIONS)}
        out["total"] = float(v.min())
        return out

    def covered(self, visibility: dict[str, float]) -> list[str]:
        """The regions under their threshold, in REGIONS order."""
        return [r for r in REGIONS if visibility[r] < self.min_visible[r]]
