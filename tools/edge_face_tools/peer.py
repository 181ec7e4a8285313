"""The face_recognition peer (dlib HOG detector + ResNet embedding), run on the same pairs in the same run.

Optional: present only where `make peer` installed it. Largest face, cosine of the 128-d encodings, like the
figure quoted in the data README.
"""
from __future__ import annotations

import statistics
from importlib import metadata
import time
from pathlib import Path

import numpy as np

from edge_face_tools.lfw import read_pairs
from edge_face_tools.metrics import evaluate_pairs


def run_lfw(name: str, data: Path) -> dict:
    if name != "face_recognition":
        raise SystemExit(f"unknown peer {name!r} (known: face_recognition)")
    try:
        import face_recognition  # type: ignore[import-not-found]
    except ImportError:
        return {"skipped": "face_recognition is not installed (make peer)"}
    pairs = read_pairs(data)
    paths = sorted({p["path_a"] for p in pairs} | {p["path_b"] for p in pairs})
    vectors: dict[str, np.ndarray] = {}
    times = []
    for rel in paths:
        img = face_recognition.load_image_file(str(data / rel))
        t0 = time.perf_counter()
        boxes = face_recognition.face_locations(img)
        if boxes:
            box = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
            enc = face_recognition.face_encodings(img, [box])[0]
            vectors[rel] = enc / np.linalg.norm(enc)
        times.append((time.perf_counter() - t0) * 1e3)
    return {
        "peer": "face_recognition " + metadata.version("face_recognition"),  # its __version__ says 1.2.3
        **evaluate_pairs(vectors, pairs),
        "no_face": len(paths) - len(vectors),
        "ms_per_image_median": statistics.median(times),
    }
