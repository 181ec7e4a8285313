"""Choose the embedding by measurement: each embedder alone and weighted fusions, on the same faces, in one run.

Usage: python -m edge_face_tools.embedders --data DIR [--models sface mobilefacenet ...] [--weights 0.3 0.5 0.7]
DIR has the LFW layout (images/, pairs.csv). Every pair photo is detected and aligned once; each model embeds the
same crops; accuracy (k-fold over the folds present) and TAR at FAR 1e-3 are reported per model and for the
fusion of the first two models at each weight of the first. Prints JSON.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from edge_face.config import Config
from edge_face.imaging import decode_image
from edge_face.models import ModelRegistry
from edge_face.pipeline.embed import embedder_for
from edge_face.services import wire_faces
from edge_face_tools.lfw import read_pairs
from edge_face_tools.metrics import evaluate_pairs


def evaluate(vectors: dict[str, np.ndarray], pairs: list[dict]) -> dict:
    m = evaluate_pairs(vectors, pairs)
    return {"accuracy": round(m["accuracy"], 5), "tar_at_far_1e-3": round(m["tar_at_far_1e-3"], 5)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", required=True)
    p.add_argument("--models", nargs="+", default=["sface", "mobilefacenet"])
    p.add_argument("--weights", type=float, nargs="+", default=[0.3, 0.4, 0.5, 0.6, 0.7])
    a = p.parse_args()
    data = Path(a.data)
    config = Config()
    service = wire_faces(config)
    service.warm_up()
    registry = ModelRegistry(config.models_dir)
    embedders = {m: embedder_for(registry.contract(m), registry.runner(m)) for m in a.models}
    pairs = read_pairs(data)
    paths = sorted({q["path_a"] for q in pairs} | {q["path_b"] for q in pairs})
    vectors: dict[str, dict[str, np.ndarray]] = {m: {} for m in a.models}
    ms: dict[str, list[float]] = {m: [] for m in a.models}
    for rel in paths:
        faces = service.locate(decode_image((data / rel).read_bytes()))
        if not faces:
            continue
        crop = faces[0].crop[None]
        for m, e in embedders.items():
            t0 = time.perf_counter()
            vectors[m][rel] = e.embed(crop)[0]
            ms[m].append((time.perf_counter() - t0) * 1e3)
    out = {m: {**evaluate(vectors[m], pairs), "ms_median": round(statistics.median(ms[m]), 3)} for m in a.models}
    if len(a.models) >= 2:
        m1, m2 = a.models[:2]
        for w in a.weights:
            fused = {k: np.concatenate([np.sqrt(w) * vectors[m1][k], np.sqrt(1 - w) * vectors[m2][k]])
                     for k in vectors[m1]}
            out[f"{m1}*{w}+{m2}*{1 - w:.1f}"] = evaluate(fused, pairs)
    print(json.dumps({"benchmark": "embedders", "data": data.name, "pairs": len(pairs), "photos": len(paths),
                      "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores", "results": out},
                     indent=2))


if __name__ == "__main__":
    main()
