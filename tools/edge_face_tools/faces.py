"""Shared by the LFW benchmark and the calibration fit: embed every photo of a folder through the full pipeline."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_face.imaging import decode_image
from edge_face.services.faces import FaceService


@dataclass
class Embedded:
    """Embeddings of the photos in which a face was found, the photos without one, and per-photo times (ms)."""

    index: dict[str, int] = field(default_factory=dict)
    vectors: list[np.ndarray] = field(default_factory=list)
    no_face: list[str] = field(default_factory=list)
    ms_decode: list[float] = field(default_factory=list)
    ms_pipeline: list[float] = field(default_factory=list)

    def matrix(self) -> np.ndarray:
        return np.stack(self.vectors) if self.vectors else np.zeros((0, 1), np.float32)


def embed_photos(service: FaceService, root: Path, paths: list[str], progress: bool = False) -> Embedded:
    """Raw photo bytes -> decode -> detect -> align -> embed, timed; the main face of each photo."""
    out = Embedded()
    for i, rel in enumerate(paths):
        data = (root / rel).read_bytes()
        t0 = time.perf_counter()
        img = decode_image(data)
        t1 = time.perf_counter()
        faces = service.locate(img)
        vec = service.embed(faces) if faces else None
        t2 = time.perf_counter()
        out.ms_decode.append((t1 - t0) * 1e3)
        out.ms_pipeline.append((t2 - t1) * 1e3)
        if vec is None:
            out.no_face.append(rel)
        else:
            out.index[rel] = len(out.vectors)
            out.vectors.append(vec[0])
        if progress and (i + 1) % 500 == 0:
            print(f"  {i + 1}/{len(paths)} photos", flush=True)
    return out


def list_images(images_dir: Path) -> list[str]:
    """Every photo under images/<identity>/, relative to the data folder, sorted."""
    exts = {".jpg", ".jpeg", ".png", ".bmp"}
    return sorted(str(p.relative_to(images_dir.parent)) for p in images_dir.rglob("*") if p.suffix.lower() in exts)


def identity_of(rel: str) -> str:
    """images/<identity>/<file> -> identity."""
    parts = Path(rel).parts
    return parts[-2] if len(parts) >= 2 else parts[0]
