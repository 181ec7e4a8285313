"""Latency per model and per pipeline stage, for each variant and thread count, in one run (JSON).

Usage: python -m edge_face_tools.stages --data DIR [--photos 300] [--threads 1 2] [--variant float32 float32_b1 int8]
DIR is any folder with images/<identity>/*; the photos are taken in sorted order. Medians in milliseconds.
"models": every shipped model invoked on a random input of its own shape (detector at 256x256), 50 times.
"pipeline": decode, detect, align and each embedder of a variant on real photos; total = detect + align + embed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from edge_face.backends import CpuBackend
from edge_face.config import Config
from edge_face.imaging import decode_image
from edge_face.models import ModelRegistry
from edge_face.pipeline.align import align
from edge_face.services.faces import FaceService
from edge_face_tools.faces import list_images


def _ms(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, (time.perf_counter() - t0) * 1e3


def model_latency(threads: int, repeats: int = 50) -> dict[str, float]:
    """Median invoke time of every model in models/, inputs of the model's own shape."""
    import numpy as np

    registry = ModelRegistry(Config().models_dir, CpuBackend(threads))
    out = {}
    rng = np.random.default_rng(0)
    for manifest in sorted(Config().models_dir.glob("*/manifest.json")):
        name = manifest.parent.name
        runner = registry.runner(name)
        shape = list(runner.input_shape)
        if name.startswith("yunet"):
            shape = [1, 256, 256, 3]
        x = (rng.random(shape) * 255).astype(np.float32)
        runner.run(x)
        times = [_ms(runner.run, x)[1] for _ in range(repeats)]
        out[name] = round(statistics.median(times), 3)
    return out


def measure(data: Path, photos: int, threads: int, variant: str) -> dict:
    service = FaceService(ModelRegistry(Config().models_dir, CpuBackend(threads)), variant)
    service.warm_up()
    stages: dict[str, list[float]] = {"decode": [], "detect": [], "align": [], "total": []}
    for e, _ in service.embedder.parts:
        stages[f"embed_{e.name}"] = []
    for rel in list_images(data / "images")[:photos]:
        raw = (data / rel).read_bytes()
        img, t_dec = _ms(decode_image, raw)
        faces, t_det = _ms(service.detector.detect, img)
        if not faces:
            continue
        crop, t_al = _ms(align, img, faces[0].landmarks)
        total = t_det + t_al
        for e, _ in service.embedder.parts:
            _, t_e = _ms(e.embed, crop[None])
            stages[f"embed_{e.name}"].append(t_e)
            total += t_e
        stages["decode"].append(t_dec)
        stages["detect"].append(t_det)
        stages["align"].append(t_al)
        stages["total"].append(total)
    return {"threads": threads, "photos": len(stages["total"]),
            "median_ms": {k: round(statistics.median(v), 3) for k, v in stages.items() if v},
            "note": "total = detect + align + embed (decode excluded)"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", required=True)
    p.add_argument("--photos", type=int, default=300)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--variant", nargs="+", default=["float32"])
    a = p.parse_args()
    models = {f"{t}_threads": model_latency(t) for t in a.threads}
    pipeline = {v: [measure(Path(a.data), a.photos, t, v) for t in a.threads] for v in a.variant}
    print(json.dumps({"benchmark": "stages", "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                      "models_ms_median": models, "pipeline": pipeline}, indent=2))


if __name__ == "__main__":
    main()
