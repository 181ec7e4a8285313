"""Where the time of one photo goes: decode, detect, align, and each embedder, per thread count (JSON).

Usage: python benchmarks/stages.py --data DIR [--photos 300] [--threads 1 2] [--variant float32]
DIR is any folder with images/<identity>/*; the photos are taken in sorted order. Medians in milliseconds.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

from edge_face.backends import CpuBackend
from edge_face.bench.faces import list_images
from edge_face.config import Config
from edge_face.imaging import decode_image
from edge_face.models import ModelRegistry
from edge_face.pipeline.align import align
from edge_face.service import FaceService


def _ms(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, (time.perf_counter() - t0) * 1e3


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
    p.add_argument("--variant", default="float32")
    a = p.parse_args()
    runs = [measure(Path(a.data), a.photos, t, a.variant) for t in a.threads]
    print(json.dumps({"benchmark": "stages", "variant": a.variant, "machine": platform.machine(),
                      "processor": platform.processor(), "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
