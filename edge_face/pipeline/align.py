"""5-point similarity alignment to the ArcFace 112x112 template.

Alignment dominates accuracy (MODELS.md: a plain box crop costs MobileFaceNet 11 points on LFW), so every embedder
sees faces warped by the same least-squares similarity transform (Umeyama, no reflection). The service keeps the
matrix (`alignment_matrix`) and lets edge_face.native warp each face straight into the models' input tensors;
`align` is the crop itself, through the same switch (native core or its cv2 reference), so there is one crop path.
"""
from __future__ import annotations

import numpy as np

from edge_face import native

TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    np.float64,
)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 matrix of the least-squares similarity (rotation, uniform scale, translation) mapping src onto dst."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    rot = u @ np.diag(sign) @ vt
    var = (s0**2).sum() / len(src)
    scale = (sig * sign).sum() / var if var > 0 else 1.0
    m = np.empty((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def alignment_matrix(landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """2x3 matrix taking the photo onto the template scaled to `size` (for cv2.warpAffine / native.face_tensors)."""
    return similarity_transform(landmarks, TEMPLATE_112 * (size / 112.0))


def align(bgr: np.ndarray, landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """The BGR face warped onto the template (scaled to `size`), bilinear, black outside the photo: native.crop,
    so the same bytes as the crop the embedders see (LocatedFace.crop)."""
    return native.crop(bgr, "bgr", alignment_matrix(landmarks, size), size, size)
