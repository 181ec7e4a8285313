"""Process-wide measurements the service records and the HTTP layer exports: stage timings, outcome counters and
the process's memory.

Flask-free on purpose: the service, the pipeline and the liveness code import only this module (and through it
prometheus_client, pure Python), and the API's /metrics renders `REGISTRY` next to each app's own request metrics.
Process-wide rather than per app because the pipeline has no app to report to.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Seconds; a stage takes from a fraction of a millisecond (align) to seconds (a video on a small board).
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Not prometheus_client's global REGISTRY: /metrics shows exactly these names, never what an import registered there.
REGISTRY = CollectorRegistry()
STAGES = Histogram("edge_face_stage_duration_seconds",
                   "Time spent in each processing stage (decode, detect, align, embed, liveness...).",
                   ("stage",), buckets=STAGE_BUCKETS, registry=REGISTRY)
LIVENESS = Counter("edge_face_liveness_outcomes", "Liveness decisions by outcome.", ("outcome",), registry=REGISTRY)
DECIDED_BY = Counter("edge_face_liveness_decided_by", "Liveness verdicts by the cue that decided them.",
                     ("path", "verdict", "cue"), registry=REGISTRY)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time a stage of a request (decode, detect, align, embed, liveness...), failed attempts included."""
    started = time.perf_counter()
    try:
        yield
    finally:
        STAGES.labels(name).observe(time.perf_counter() - started)


def record_stage(name: str, seconds: float) -> None:
    """A stage measured by its caller, not as one block (the camera session's wait after its last frame)."""
    STAGES.labels(name).observe(seconds)


def liveness_outcome(outcome: str) -> None:
    """Count one liveness decision ("live", "spoof", "no_face", "error"...)."""
    LIVENESS.labels(outcome).inc()


def liveness_decided_by(path: str, verdict: str, cue: str) -> None:
    """Count one liveness verdict ("live", "hack", "short_time") of a path ("video", "camera") by its deciding cue."""
    DECIDED_BY.labels(path, verdict, cue or "none").inc()


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size from /proc (Linux); 0 where /proc is absent."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


# Read at each scrape. (prometheus_client's ProcessCollector would add a dozen process_* names besides this one.)
Gauge("process_resident_memory_bytes", "Resident memory size in bytes (VmRSS).",
      registry=REGISTRY).set_function(rss_bytes)
