"""The detector's letterbox, native core against OpenCV (its reference), at photo sizes from VGA to 12 MP, with
OpenCV on 1 thread (what each inference lane gives it) and on all cores, interleaved in one run (JSON).

Usage: PYTHONPATH=tools python -m edge_face_tools.letterbox [--repeat 15]

Why both thread counts: cv2.resize splits a large picture across every core, the native core does not. Alone on a
machine OpenCV's wall time then looks better; under the lanes (edge_face/runtime/lanes.py), where every core
already runs a request, a second thread only takes a core from another lane, so the comparisons that decide are
the 1-thread one and the CPU time (`cpu_us`).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import cv2
import numpy as np

from edge_face import native
from edge_face.config import load_config
from edge_face.services import wire_faces

SIZES = [(640, 480), (1280, 960), (2028, 1520), (4000, 3000)]


def _time(fn) -> tuple[float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - w0) * 1e6, (time.process_time() - c0) * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=15)
    a = p.parse_args()
    detector = wire_faces(load_config()).detector
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8), (0, 0), 3)
    cores = len(os.sched_getaffinity(0))
    out: dict = {"cores": cores, "cv2_threads_default": cv2.getNumThreads(), "sizes": {}}
    for w, h in SIZES:
        frame = cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC)
        with native.use_native(True):
            nat = detector._input(frame)[0]
        with native.use_native(False):
            assert np.array_equal(nat, detector._input(frame)[0])
        times: dict[str, list[tuple[float, float]]] = {"native": [], "opencv_1t": [], f"opencv_{cores}t": []}
        for r in range(a.repeat):
            for name in (list(times) if r % 2 == 0 else list(times)[::-1]):
                cv2.setNumThreads(1 if name == "opencv_1t" else cores)
                with native.use_native(name == "native"):
                    times[name].append(_time(lambda: detector._input(frame)))
        cv2.setNumThreads(cores)
        row = {k: {"wall_us": round(statistics.median(t[0] for t in v)), "cpu_us": round(statistics.median(t[1] for t in v))}
               for k, v in times.items()}
        for k in list(row):
            if k != "native":
                row[f"{k}_over_native_wall"] = round(row[k]["wall_us"] / row["native"]["wall_us"], 2)
                row[f"{k}_over_native_cpu"] = round(row[k]["cpu_us"] / max(1, row["native"]["cpu_us"]), 2)
        out["sizes"][f"{w}x{h}"] = row
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
