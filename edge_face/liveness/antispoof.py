"""MiniFASNet (both models) on the face *and its surroundings*, per frame (models/minifasnet_*/manifest.json).

The crop rule is upstream's and matters more than anything else here: the box is scaled about its centre (each
model's manifest states its scale: 2.7 for V2, 4.0 for V1SE) so that bezels, paper edges and hands are in view; BGR,
float 0..255; softmax index 1 = real.
"""
from __future__ import annotations

import cv2
import numpy as np

from edge_face.backends import Runner
from edge_face.models import ModelRegistry

SIZE = 80


def crop_box(box: np.ndarray, width: int, height: int, scale: float) -> tuple[int, int, int, int]:
    """Upstream's CropImage._get_new_box on an (x1, y1, x2, y2) box: scale, clamp the scale, shift inside."""
    x, y = float(box[0]), float(box[1])
    w, h = max(float(box[2] - box[0]), 1.0), max(float(box[3] - box[1]), 1.0)
    scale = min((height - 1) / h, (width - 1) / w, scale)
    nw, nh = w * scale, h * scale
    cx, cy = x + w / 2, y + h / 2
    x1, y1, x2, y2 = cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2
    if x1 < 0:
        x2, x1 = x2 - x1, 0.0
    if y1 < 0:
        y2, y1 = y2 - y1, 0.0
    if x2 > width - 1:
        x1, x2 = x1 - x2 + width - 1, width - 1.0
    if y2 > height - 1:
        y1, y2 = y1 - y2 + height - 1, height - 1.0
    return max(0, int(x1)), max(0, int(y1)), int(x2), int(y2)


def crop(bgr: np.ndarray, box: np.ndarray, scale: float) -> np.ndarray:
    """The model's 80x80 BGR float 0..255 input: the face box scaled by `scale` with upstream's rule."""
    x1, y1, x2, y2 = crop_box(box, bgr.shape[1], bgr.shape[0], scale)
    return cv2.resize(bgr[y1:y2 + 1, x1:x2 + 1], (SIZE, SIZE)).astype(np.float32)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


class MiniFASNet:
    """P(real) of one face: the mean of the models' softmax index 1, as upstream does."""

    def __init__(self, models: list[tuple[Runner, float]]) -> None:
        self.models = models  # (runner, crop scale)

    @classmethod
    def from_registry(cls, registry: ModelRegistry,
                      names: tuple[str, ...] = ("minifasnet_v2", "minifasnet_v1se")) -> "MiniFASNet":
        """The models with the crop scale each one's manifest states (contract.crop_scale)."""
        return cls([(registry.runner(name), registry.contract(name).require_crop_scale()) for name in names])

    def score(self, bgr: np.ndarray, box: np.ndarray) -> float:
        probs = []
        for runner, scale in self.models:
            logits = next(iter(runner.run(crop(bgr, box, scale)[None]).values())).reshape(-1)
            probs.append(float(_softmax(logits)[1]))
        return float(np.mean(probs))


def score(values: list[float]) -> float | None:
    """Logit of the median per-frame P(real), clipped: the median ignores the odd frame in motion blur."""
    if not values:
        return None
    p = float(np.clip(np.median(values), 1e-3, 1 - 1e-3))
    return float(np.log(p / (1 - p)))
