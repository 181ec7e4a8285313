"""`edge-face tune`: the right model variant for this CPU, measured on it.

Why: which variant is fastest depends on the CPU, not on the model sizes. SFace int8 takes 11.2 ms on an AVX2 CPU
without VNNI and float SFace 9.2 ms there (issue 16), while a VNNI CPU runs the int8 one about 1.5x faster than
the float one. So each shipped variant's models are timed here, with the interpreter threads the service will use,
and the fastest variant whose lfw-dev accuracy (`lfw_dev_accuracy` in models/verification/<variant>.json) is
within TOLERANCE points of the default's is chosen. `model_variant = "auto"` uses the choice; an explicit variant
always wins; every variant keeps its own calibration, so a choice never mixes embeddings.
"""
from __future__ import annotations

import json
import logging
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from edge_face.config import Config
from edge_face.runtime.cpu import describe

log = logging.getLogger("edge_face.tuning")

AUTO = "auto"
DEFAULT_VARIANT = "fast"  # what "auto" means without a tuning file, and the accuracy reference
TOLERANCE = 0.1  # accuracy points a faster variant may lose against the default
DETECTOR_INPUT = (1, 480, 640, 3)  # a 640x480 photo: what kiosks and the HTTP benchmark send


def default_path() -> Path:
    """$STATE_DIRECTORY/tune.json under systemd, else ~/.cache/edge_face/tune.json."""
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(state) / "tune.json" if state else Path.home() / ".cache" / "edge_face" / "tune.json"


def tune_path(config: Config) -> Path:
    return Path(config.tune_file) if config.tune_file else default_path()


def _interleaved_medians(calls: dict[str, tuple], repeats: int) -> dict[str, float]:
    """Median ms of each (run, x), the models taking turns repeat after repeat, so that load from other processes
    falls on all of them alike (a choice between them is a ratio)."""
    for run, x in calls.values():
        run(x)  # XNNPACK's set-up and the first allocation are not what a request pays
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, (run, x) in calls.items():
            t0 = time.perf_counter()
            run(x)
            times[name].append((time.perf_counter() - t0) * 1e3)
    return {name: round(statistics.median(t), 3) for name, t in times.items()}


def measure(config: Config, repeats: int = 30) -> dict:
    """Per-model medians (ms, one invoke, the service's threads) and per-variant totals for one photo."""
    from edge_face.backends import CpuBackend
    from edge_face.models import ModelRegistry
    from edge_face.runtime import plan

    lanes, threads, _ = plan(config)
    registry = ModelRegistry(config.models_dir, CpuBackend(threads))
    folder = Path(config.models_dir) / "verification"
    variants = {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
    rng = np.random.default_rng(0)
    calls: dict[str, tuple] = {}
    for v in variants.values():
        for name in [v["detector"], *(e["model"] for e in v["embedders"])]:
            if name not in calls:
                runner = registry.runner(name)
                shape = DETECTOR_INPUT if name == v["detector"] else runner.input_shape
                calls[name] = (runner.run, (rng.random(shape) * 255).astype(runner.input_dtype))
    models = _interleaved_medians(calls, repeats)
    reference = variants[DEFAULT_VARIANT].get("lfw_dev_accuracy")
    out = {}
    for name, v in variants.items():
        accuracy = v.get("lfw_dev_accuracy")
        out[name] = {"ms_per_photo": round(models[v["detector"]] + sum(models[e["model"]] for e in v["embedders"]), 3),
                     "lfw_dev_accuracy": accuracy,
                     "eligible": accuracy is not None and reference is not None and accuracy >= reference - TOLERANCE}
    eligible = {n: r for n, r in out.items() if r["eligible"]} or {DEFAULT_VARIANT: out[DEFAULT_VARIANT]}
    chosen = min(eligible, key=lambda n: eligible[n]["ms_per_photo"])
    return {"chosen": chosen, "rule": f"fastest variant within {TOLERANCE} accuracy points of {DEFAULT_VARIANT!r}",
            "variants": out, "models_ms": models, "threads": threads, "lanes": lanes,
            "machine": describe(),
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def write(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    tmp.replace(path)  # a reader never sees half a file


def read(config: Config) -> dict | None:
    """The tuning record, or None when there is none (or it cannot be read: "auto" then means the default)."""
    try:
        return json.loads(tune_path(config).read_text())
    except (OSError, ValueError):
        return None


def resolve(config: Config) -> Config:
    """`config` with model_variant "auto" replaced by the tuned choice (the default without a tuning record)."""
    if config.model_variant != AUTO:
        return config
    record = read(config)
    chosen = (record or {}).get("chosen")
    if not chosen or not (Path(config.models_dir) / "verification" / f"{chosen}.json").is_file():
        log.warning("model_variant = auto but no tuning record at %s (run `edge-face tune`): using %s",
                    tune_path(config), DEFAULT_VARIANT)
        return replace(config, model_variant=DEFAULT_VARIANT)
    figures = record["variants"][chosen]
    log.info("model_variant auto -> %s (%.1f ms per photo on this CPU, lfw-dev %s%%; measured %s)", chosen,
             figures["ms_per_photo"], figures["lfw_dev_accuracy"], record.get("measured_at", "?"))
    return replace(config, model_variant=chosen)


def summary(config: Config) -> dict | None:
    """What /readyz shows under "tuning" when the variant was chosen by `edge-face tune`."""
    if config.model_variant != AUTO:
        return None
    record = read(config)
    if record is None:
        return {"chosen": DEFAULT_VARIANT, "reason": "no tuning record"}
    return {k: record.get(k) for k in ("chosen", "rule", "variants", "threads", "measured_at")}
