"""Latency of a written artefact, measured in a fresh process like the service's.

The build process has idle TensorFlow, OpenCV and LiteRT thread pools that measurably slowed the 2-thread
figures, so `latency()` runs this module's main() with the same python: `python -m models.build.latency JOB`.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from models.build import ROOT


def median_latency_ms(data: bytes, shape: list[int], threads: int, runs: int = 30, rounds: int = 3) -> float:
    """Median of `runs` invokes after 3 warm-ups, XNNPACK (LiteRT's default CPU delegate), random input.

    The lowest of `rounds` such medians is kept: on a shared build machine other jobs inflate single rounds,
    2-thread ones most."""
    it = Interpreter(model_content=data, num_threads=threads)
    inp = it.get_input_details()[0]
    it.resize_tensor_input(inp["index"], shape, strict=True)
    it.allocate_tensors()
    it.set_tensor(inp["index"], np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32))
    for _ in range(3):
        it.invoke()
    medians = []
    for _ in range(rounds):
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            it.invoke()
            times.append((time.perf_counter() - t0) * 1000)
        medians.append(float(np.median(times)))
    return round(min(medians), 2)


def bench_all(path: Path, shapes: dict[str, list[int]]) -> dict[str, dict[str, float]]:
    data = path.read_bytes()
    return {label: {f"{t}_thread{'s' if t > 1 else ''}": median_latency_ms(data, shape, t) for t in (1, 2)}
            for label, shape in shapes.items()}


def latency(path: Path, shapes: dict[str, list[int]]) -> dict[str, Any]:
    """The manifest's latency record of the model at `path`, one entry per labelled input shape."""
    job = json.dumps({"path": str(path), "shapes": shapes})
    out = subprocess.run([sys.executable, "-m", "models.build.latency", job], check=True, capture_output=True,
                         text=True, cwd=ROOT)
    return {"runtime": f"ai-edge-litert {dist_version('ai-edge-litert')}, XNNPACK, median of 30 invokes "
                       "(lowest of 3 rounds), fresh process",
            "machine": f"{platform.machine()} {os.cpu_count()} CPUs, {platform.processor() or platform.system()}",
            "median_ms": json.loads(out.stdout.strip().splitlines()[-1])}


def main() -> None:
    job = json.loads(sys.argv[1])
    print(json.dumps(bench_all(Path(job["path"]), job["shapes"])))


if __name__ == "__main__":
    main()
