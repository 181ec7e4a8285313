"""LFW at a camera's resolution: every pair photo scaled into a 640x480 JPEG (as `bench http` sends them), verified
through the quick main-face path (FaceFinder.quick_main: a 320-px search and a closer look) and through the full
search, on the same photos in one run. Prints JSON: accuracy, TAR at FAR 1e-3 of each path, detection ms per photo
(median) and the CPU flags.

    python -m edge_face_tools.framed_lfw --data DIR [--pairs N]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from edge_face.config import load_config
from edge_face.runtime.cpu import describe
from edge_face.services import wire_faces
from edge_face_tools.http import jpeg_640x480
from edge_face_tools.lfw import read_pairs
from edge_face_tools.metrics import evaluate_pairs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="a folder of the LFW layout (pairs.csv, images/)")
    ap.add_argument("--pairs", type=int, default=0, help="only the first N pairs (0: all)")
    args = ap.parse_args(argv)
    data = Path(args.data)
    pairs = read_pairs(data)[: args.pairs or None]
    service = wire_faces(load_config())
    service.warm_up()
    finder = service.detector
    vectors: dict[str, dict[str, np.ndarray]] = {"quick": {}, "full": {}}
    ms: dict[str, list[float]] = {"quick": [], "full": []}
    quick_taken = 0
    for path in sorted({p["path_a"] for p in pairs} | {p["path_b"] for p in pairs}):
        bgr = cv2.imdecode(np.frombuffer(jpeg_640x480(data / path), np.uint8), cv2.IMREAD_COLOR)
        for name in ("quick", "full"):  # interleaved: the machine's load hits both alike
            t0 = time.perf_counter()
            faces = service.locate(bgr, full_search=name == "full")
            ms[name].append((time.perf_counter() - t0) * 1e3)
            if faces:
                vectors[name][path] = service.embed(faces[:1])[0]
        quick_taken += finder.quick_main(bgr) is not None
    out = {"benchmark": "framed_lfw", "machine": describe(), "pairs": len(pairs),
           "photos": len(ms["quick"]), "quick_path_taken": quick_taken}
    for name in ("quick", "full"):
        out[name] = {**evaluate_pairs(vectors[name], pairs),
                     "locate_ms_median": round(statistics.median(ms[name]), 2)}
    print(json.dumps(out, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
