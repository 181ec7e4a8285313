"""`edge-face bench lfw`: accuracy, TAR at FAR 1e-3, photos without a face, speed and calibrated FAR.

DIR holds images/<identity>/*.jpg and pairs.csv (path_a, path_b, same, fold). Every photo goes through the full
pipeline from its raw bytes. A photo without a face makes its pairs fail: an error for accuracy, a reject for TAR.
The calibrated FAR is measured over every cross-identity pair of all photos in images/, and separately over the
identities that the shipped calibration was not fitted on (its fit rule is stored with it).
"""
from __future__ import annotations

import csv
import statistics
from pathlib import Path

import numpy as np

from edge_face.native import cosine_matrix
from edge_face.pipeline.calibrate import measured_far
from edge_face.services.faces import FaceService
from edge_face_tools.faces import embed_photos, identity_of, list_images
from edge_face_tools.fitsplit import in_fit_set
from edge_face_tools.metrics import evaluate_pairs


def read_pairs(data: Path) -> list[dict]:
    with open(data / "pairs.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def impostor_cosines(paths: list[str], vectors: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Cosines of every pair of photos of different identities (upper triangle), in chunks to bound memory."""
    ids = np.array([identity_of(p) for p in paths])
    out = []
    for start in range(0, len(paths), chunk):
        block = cosine_matrix(vectors[start:start + chunk], vectors)
        rows = np.arange(start, min(start + chunk, len(paths)))
        upper = np.arange(len(paths))[None, :] > rows[:, None]
        differ = ids[rows][:, None] != ids[None, :]
        out.append(block[upper & differ])
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def run(data: Path, service: FaceService, far_over_all: bool = True, progress: bool = False) -> dict:
    pairs = read_pairs(data)
    paths = sorted({p["path_a"] for p in pairs} | {p["path_b"] for p in pairs})
    if far_over_all:
        paths = sorted(set(paths) | set(list_images(data / "images")))
    emb = embed_photos(service, data, paths, progress=progress)
    vectors = emb.matrix()
    pair_photos = {p["path_a"] for p in pairs} | {p["path_b"] for p in pairs}
    result: dict = {
        "variant": service.variant["id"],
        "pairs": len(pairs),
        "photos_in_pairs": len(pair_photos),
        **evaluate_pairs({p: vectors[i] for p, i in emb.index.items()}, pairs),
        "no_face": sum(1 for p in emb.no_face if p in pair_photos),
        "no_face_rate": sum(1 for p in emb.no_face if p in pair_photos) / max(1, len(pair_photos)),
        "no_face_photos": [p for p in emb.no_face if p in pair_photos],
        "ms_per_image_median": statistics.median(emb.ms_pipeline),
        "ms_decode_median": statistics.median(emb.ms_decode),
    }
    if far_over_all:
        found = [p for p in paths if p in emb.index]
        vec = vectors[[emb.index[p] for p in found]]
        imp = impostor_cosines(found, vec)
        result["calibrated_far"] = measured_far(service.calibration.score(imp))
        fit_rule = service.variant.get("calibration_fit", {})
        held = [i for i, p in enumerate(found) if not in_fit_set(identity_of(p), fit_rule)]
        if fit_rule and held:
            imp_h = impostor_cosines([found[i] for i in held], vec[held])
            result["calibrated_far_holdout"] = measured_far(service.calibration.score(imp_h))
    return result
