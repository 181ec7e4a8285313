"""Face detection with YuNet (5 landmarks), run at the photo's own size padded to a multiple of 32.

YuNet is anchor-free: for each stride s in (8, 16, 32) every feature-map cell predicts a class and an objectness
score (the face score is their geometric mean), a box as (dx, dy, log w, log h) in units of s, and five landmarks as
offsets from the cell. The decoding below follows OpenCV's FaceDetectorYN, which is the reference it is tested
against.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from edge_face import native
from edge_face.backends import Runner
from edge_face.models.contract import InputSpec
from edge_face.pipeline.types import Face

STRIDES = (8, 16, 32)


@lru_cache(maxsize=16)
def _output_names(names: tuple[str, ...]) -> dict[str, str]:
    """Which of a converted model's output names ("cls_8", "StatefulPartitionedCall:3 cls_8"...) holds each
    output: resolved once per model, not on every detection (a video runs thousands)."""
    found = {}
    for s in STRIDES:
        for kind in ("cls", "obj", "bbox", "kps"):
            key = f"{kind}_{s}"
            match = [n for n in names if n == key or n.endswith(key) or n.split(":")[0].endswith(key)]
            if not match:
                raise KeyError(f"detector output {key} not found in {sorted(names)}")
            found[key] = match[0]
    return found


def decode(outputs: dict[str, np.ndarray], width: int, height: int,
           threshold: float = -1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw outputs of a (height x width) padded input -> (scores N, boxes N x 4 xyxy, landmarks N x 5 x 2) of the
    cells scoring at least `threshold` (every cell by default). Boxes and landmarks are decoded for those cells
    only: a 320x256 input has 1680 cells and a face a handful, and the values are the same either way."""
    names = _output_names(tuple(outputs))
    scores, boxes, marks = [], [], []
    for s in STRIDES:
        cols = width // s
        cls = np.clip(outputs[names[f"cls_{s}"]].reshape(-1), 0, 1)
        obj = np.clip(outputs[names[f"obj_{s}"]].reshape(-1), 0, 1)
        score = np.sqrt(cls * obj)
        keep = np.flatnonzero(score >= threshold)
        bbox = outputs[names[f"bbox_{s}"]].reshape(-1, 4)[keep]
        kps = outputs[names[f"kps_{s}"]].reshape(-1, 5, 2)[keep]
        r, c = np.divmod(keep, cols)
        cell = np.stack([c, r], axis=1).astype(np.float32)
        centre = (cell + bbox[:, :2]) * s
        size = np.exp(bbox[:, 2:4]) * s
        scores.append(score[keep])
        boxes.append(np.concatenate([centre - size / 2, centre + size / 2], axis=1))
        marks.append((kps + cell[:, None, :]) * s)
    return np.concatenate(scores), np.concatenate(boxes), np.concatenate(marks)


class YuNetDetector:
    """Finds every face above `score_threshold`; photos are scaled down so the long side is at most `max_side`."""

    def __init__(self, runner: Runner, score_threshold: float = 0.6, nms_threshold: float = 0.3,
                 max_side: int = 640, min_side: int = 160) -> None:
        self.runner = runner
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_side = max_side
        self.min_side = min_side
        self._specs: dict[tuple[int, int], InputSpec] = {}

    def _spec(self, height: int, width: int) -> InputSpec:
        """YuNet's input: BGR 0..255 unscaled (quantized per the interpreter when its input is int8/uint8)."""
        spec = self._specs.get((height, width))
        if spec is None:
            dtype = np.dtype(getattr(self.runner, "input_dtype", np.float32)).name
            scale, zero_point = getattr(self.runner, "input_quantization", (0.0, 0)) if dtype != "float32" else (0., 0)
            spec = InputSpec(height=height, width=width, order="bgr", dtype=dtype, scale=float(scale),
                             zero_point=int(zero_point))
            if len(self._specs) < 64:
                self._specs[(height, width)] = spec
        return spec

    def _input(self, frame: np.ndarray, layout: str = "bgr", max_side: int | None = None) -> tuple[np.ndarray, float]:
        """The letterbox: the photo scaled (INTER_AREA down, INTER_LINEAR up), padded at the bottom and right to
        multiples of 32 with black; (1, H, W, 3) plus the scale. `max_side` overrides the detector's own."""
        h, w = frame.shape[:2]
        scale = min(1.0, (max_side or self.max_side) / max(h, w))
        if max(h, w) * scale < self.min_side:  # tiny photos: upscale so small faces reach the 8-px stride
            scale = self.min_side / max(h, w)
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        pw, ph = -(-sw // 32) * 32, -(-sh // 32) * 32
        x = native.letterbox(frame, layout, self._spec(ph, pw), (sw, sh), "area" if scale < 1 else "linear")
        return x, scale

    def detect(self, frame: np.ndarray, score_threshold: float | None = None, layout: str = "bgr",
               max_side: int | None = None) -> list[Face]:
        """Faces sorted by score, in the pixel frame of `frame` (BGR by default; any layout of
        edge_face.models.contract.LAYOUTS). `max_side`: the long side detection runs at (default: the detector's)."""
        threshold = self.score_threshold if score_threshold is None else score_threshold
        x, scale = self._input(frame, layout, max_side)
        outputs = self.runner.run(x)
        scores, boxes, marks = decode(outputs, x.shape[2], x.shape[1], threshold)
        if not len(scores):
            return []
        boxes, marks = boxes / scale, marks / scale
        xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
        picked = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), threshold, self.nms_threshold)
        picked = np.asarray(picked, dtype=int).reshape(-1)
        return [Face(box=boxes[i], landmarks=marks[i], score=float(scores[i])) for i in picked]
