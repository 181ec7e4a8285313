"""Faces as people present them to a kiosk camera, made from real fixture photos in a stated, reproducible way.

- `wear_mask`: one of insightface's real surgical-mask textures (mask_*.jpg are textures, not photos of people)
  warped over the lower face, placed from the 468-point mesh: its top edge runs from cheek to cheek over the nose
  bridge, its outline follows the jaw to the chin, as a worn mask does.
- `backlight`: what a webcam's auto-exposure does with a bright window behind the user: the background is pushed
  toward white (exposed for the window) and the face, outside the light, loses most of its light (x `face_gain`),
  with a soft elliptical transition.
- `underexpose`: the whole frame at a fraction of its light, with sensor noise: a dim room.
"""
from __future__ import annotations

import cv2
import numpy as np

# MediaPipe face-mesh indices: the face oval from one cheek to the other under the eyes, through the chin.
LOWER_OVAL = (234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323,
              454)
NOSE_BRIDGE = 6


def wear_mask(bgr: np.ndarray, mesh_points: np.ndarray, texture: np.ndarray, top: float = 0.25) -> np.ndarray:
    """`top`: where the mask's upper edge crosses the nose, from the bridge (0, a KN95 pressed up to the eyes) to
    the tip (1); a surgical mask worn properly sits at about 0.25."""
    p = np.asarray(mesh_points, np.float64)[:, :2]
    left, right, chin, bridge = p[234], p[454], p[152], p[NOSE_BRIDGE]
    edge = bridge + top * (p[1] - bridge)
    outline = np.array([left, edge, right] + [p[i] for i in LOWER_OVAL[::-1][1:-1]], np.float64)
    th, tw = texture.shape[:2]
    src = np.float32([[0, 0], [tw, 0], [tw / 2, th]])
    dst = np.float32([left, right, chin])
    layer = cv2.warpAffine(texture, cv2.getAffineTransform(src, dst), (bgr.shape[1], bgr.shape[0]),
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    alpha = np.zeros(bgr.shape[:2], np.float32)
    cv2.fillPoly(alpha, [np.round(outline).astype(np.int32)], 1.0, cv2.LINE_AA)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(0.6, 0.004 * np.linalg.norm(right - left)))[..., None]
    return np.clip(bgr * (1 - alpha) + layer * alpha, 0, 255).astype(np.uint8)


def backlight(bgr: np.ndarray, box: np.ndarray, face_gain: float = 0.22, background_lift: float = 0.75) -> np.ndarray:
    """`box`: the face (x1, y1, x2, y2); the head (1.6x the box) is the part of the frame out of the light."""
    h, w = bgr.shape[:2]
    x1, y1, x2, y2 = np.asarray(box, np.float64)
    head = np.zeros((h, w), np.float32)
    c = (int((x1 + x2) / 2), int((y1 + y2) / 2 + 0.15 * (y2 - y1)))
    cv2.ellipse(head, c, (int(0.8 * (x2 - x1)), int(1.0 * (y2 - y1))), 0, 0, 360, 1.0, -1)
    cv2.rectangle(head, (int(x1 - 0.6 * (x2 - x1)), int(y2)), (int(x2 + 0.6 * (x2 - x1)), h), 1.0, -1)  # shoulders
    head = cv2.GaussianBlur(head, (0, 0), 0.08 * (x2 - x1))[..., None]
    img = bgr.astype(np.float32)
    bright = img + (255 - img) * background_lift
    dark = img * face_gain
    return np.clip(bright * (1 - head) + dark * head, 0, 255).astype(np.uint8)


def underexpose(bgr: np.ndarray, gain: float = 0.12, noise: float = 2.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = bgr.astype(np.float32) * gain + rng.normal(0, noise, bgr.shape)
    return np.clip(img, 0, 255).astype(np.uint8)
