"""Face embeddings from aligned 112x112 crops, and the fusion of several embedders into one vector.

Each embedder knows its model's input contract (colour order, normalisation, batch); callers hand it BGR uint8
crops from edge_face.pipeline.align and get L2-normalised float32 rows back.
"""
from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

from edge_face.backends import Runner


def l2_normalise(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(n, 1e-12)).astype(np.float32)


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """(N, 112, 112, 3) BGR uint8 -> (N, dim) unit vectors."""
        ...


class SFaceEmbedder:
    """OpenCV Zoo SFace: RGB, 0..255 unscaled (FaceRecognizerSF's blobFromImage(swapRB=true)), 128-d."""

    name = "sface"
    dim = 128

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def embed(self, crops: np.ndarray) -> np.ndarray:
        rows = []
        for crop in crops:
            x = crop[None, :, :, ::-1].astype(np.float32)
            (out,) = self.runner.run(x).values()
            rows.append(out.reshape(-1))
        return l2_normalise(np.stack(rows))


class MobileFaceNetEmbedder:
    """sirius-ai MobileFaceNet: RGB (x - 127.5) / 128, 192-d.

    The original file has a fixed batch of 2: the second slot carries the face's mirror, which costs nothing and
    averaging the two embeddings is a known gain. A batch-1 rebuild embeds the face alone (half the time).
    """

    name = "mobilefacenet"
    dim = 192

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.with_mirror = runner.input_shape[0] == 2

    def embed(self, crops: np.ndarray) -> np.ndarray:
        rows = []
        for crop in crops:
            rgb = (crop[:, :, ::-1].astype(np.float32) - 127.5) / 128.0
            x = np.stack([rgb, rgb[:, ::-1]]) if self.with_mirror else rgb[None]
            (out,) = self.runner.run(x).values()
            rows.append(l2_normalise(out.reshape(len(x), -1)).sum(0))
        return l2_normalise(np.stack(rows))


def embedder_for(model: str, runner: Runner) -> Embedder:
    """The input contract follows the model family, named by the folder prefix (sface_int8 is still SFace)."""
    for prefix, cls in (("sface", SFaceEmbedder), ("mobilefacenet", MobileFaceNetEmbedder)):
        if model.startswith(prefix):
            return cls(runner)
    raise ValueError(f"no embedder knows the model {model!r}")


class FusedEmbedder:
    """Concatenation of unit embeddings weighted by sqrt(w): the cosine of two fused vectors is sum(w_i cos_i)."""

    def __init__(self, parts: Sequence[tuple[Embedder, float]]) -> None:
        total = sum(w for _, w in parts)
        self.parts = [(e, w / total) for e, w in parts]
        self.name = "+".join(e.name for e, _ in self.parts)
        self.dim = sum(e.dim for e, _ in self.parts)

    def embed(self, crops: np.ndarray) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros((0, self.dim), np.float32)
        return np.concatenate([e.embed(crops) * np.sqrt(w) for e, w in self.parts], axis=1).astype(np.float32)
