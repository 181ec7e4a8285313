"""Face embeddings from aligned faces, and the fusion of several embedders into one vector.

Each embedder knows its model's input contract as an InputSpec (size, colour order, normalisation, quantization,
batch with the mirror). Faces arrive either as aligned 112x112 BGR uint8 crops (`embed`) or as the frame they are
in with the matrix that aligns them (`embed_aligned`), in which case edge_face.native builds every model's input
tensor straight from the frame in one pass. Both return L2-normalised float32 rows, and the same ones.
"""
from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

from edge_face import native
from edge_face.backends import Runner
from edge_face.models import ModelContract, ModelError
from edge_face.models.contract import InputSpec


def l2_normalise(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(n, 1e-12)).astype(np.float32)


class AlignedFace(Protocol):
    """A face to embed: the frame it is in, its pixel layout, and the 2x3 matrix taking it onto the crop."""

    frame: np.ndarray
    layout: str
    matrix: np.ndarray


class Embedder(Protocol):
    name: str
    dim: int
    spec: InputSpec

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """(N, 112, 112, 3) BGR uint8 -> (N, dim) unit vectors."""
        ...

    def embed_aligned(self, faces: Sequence[AlignedFace]) -> np.ndarray:
        """Faces in their frames -> (N, dim) unit vectors."""
        ...

    def row(self, x: np.ndarray) -> np.ndarray:
        """One face's input tensor (spec.shape) -> its embedding (not normalised)."""
        ...


def input_spec(runner: Runner, order: str, mean: float, std: float) -> InputSpec:
    """The model's input contract, with size, layout, batch and quantization read from the interpreter."""
    shape = tuple(int(v) for v in runner.input_shape)
    nchw = len(shape) == 4 and shape[1] == 3 and shape[3] != 3
    height, width = (shape[2], shape[3]) if nchw else (shape[1], shape[2])
    dtype = np.dtype(runner.input_dtype).name
    scale, zero_point = getattr(runner, "input_quantization", (0.0, 0)) if dtype != "float32" else (0.0, 0)
    return InputSpec(height=height, width=width, order=order, mean=(mean,) * 3, std=(std,) * 3, dtype=dtype,
                     scale=float(scale), zero_point=int(zero_point), nchw=nchw, mirror=shape[0] == 2)


class _Embedder:
    name: str
    dim: int
    spec: InputSpec

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def row(self, x: np.ndarray) -> np.ndarray:
        (out,) = self.runner.run(x).values()
        return out.reshape(-1)

    def embed(self, crops: np.ndarray) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros((0, self.dim), np.float32)
        return l2_normalise(np.stack([self.row(self.spec.tensor(crop)) for crop in crops]))

    def embed_aligned(self, faces: Sequence[AlignedFace]) -> np.ndarray:
        if len(faces) == 0:
            return np.zeros((0, self.dim), np.float32)
        rows = [self.row(native.face_tensors(f.frame, f.layout, f.matrix, [self.spec])[0]) for f in faces]
        return l2_normalise(np.stack(rows))


class SFaceEmbedder(_Embedder):
    """OpenCV Zoo SFace: RGB, 0..255 unscaled (FaceRecognizerSF's blobFromImage(swapRB=true)), 128-d."""

    name = "sface"
    dim = 128

    def __init__(self, runner: Runner) -> None:
        super().__init__(runner)
        self.spec = input_spec(runner, order="rgb", mean=0.0, std=1.0)


class MobileFaceNetEmbedder(_Embedder):
    """sirius-ai MobileFaceNet: RGB (x - 127.5) / 128, 192-d.

    The original file has a fixed batch of 2: the second slot carries the face's mirror, which costs nothing and
    averaging the two embeddings is a known gain. A batch-1 rebuild embeds the face alone (half the time).
    """

    name = "mobilefacenet"
    dim = 192

    def __init__(self, runner: Runner) -> None:
        super().__init__(runner)
        self.spec = input_spec(runner, order="rgb", mean=127.5, std=128.0)
        self.with_mirror = self.spec.mirror

    def row(self, x: np.ndarray) -> np.ndarray:
        (out,) = self.runner.run(x).values()
        return l2_normalise(out.reshape(len(x), -1)).sum(0)


# contract.family in a model's manifest -> the embedder that knows its input contract and output
EMBEDDERS: dict[str, type[_Embedder]] = {"sface": SFaceEmbedder, "mobilefacenet": MobileFaceNetEmbedder}


def embedder_for(contract: ModelContract, runner: Runner) -> Embedder:
    """The embedder of the model's family, as its manifest states it (sface_int8 says "sface")."""
    cls = EMBEDDERS.get(contract.family or "")
    if cls is None:
        raise ModelError(f"model {contract.model}: contract.family {contract.family!r} is none of "
                         f"{sorted(EMBEDDERS)}")
    return cls(runner)


class FusedEmbedder:
    """Concatenation of unit embeddings weighted by sqrt(w): the cosine of two fused vectors is sum(w_i cos_i)."""

    def __init__(self, parts: Sequence[tuple[Embedder, float]]) -> None:
        total = sum(w for _, w in parts)
        self.parts = [(e, w / total) for e, w in parts]
        self.name = "+".join(e.name for e, _ in self.parts)
        self.dim = sum(e.dim for e, _ in self.parts)

    def _fuse(self, rows: list[list[np.ndarray]]) -> np.ndarray:
        """rows[i][k]: part i's raw embedding of face k."""
        return np.concatenate([l2_normalise(np.stack(r)) * np.sqrt(w) for r, (_, w) in zip(rows, self.parts)],
                              axis=1).astype(np.float32)

    def embed(self, crops: np.ndarray) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros((0, self.dim), np.float32)
        return self._fuse([[e.row(e.spec.tensor(crop)) for crop in crops] for e, _ in self.parts])

    def embed_aligned(self, faces: Sequence[AlignedFace]) -> np.ndarray:
        """Every part's input tensor of a face comes from one pass over its frame."""
        if len(faces) == 0:
            return np.zeros((0, self.dim), np.float32)
        specs = [e.spec for e, _ in self.parts]
        rows: list[list[np.ndarray]] = [[] for _ in self.parts]
        for f in faces:
            for i, ((e, _), x) in enumerate(zip(self.parts, native.face_tensors(f.frame, f.layout, f.matrix, specs))):
                rows[i].append(e.row(x))
        return self._fuse(rows)
