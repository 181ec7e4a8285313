"""Process-wide measurements the service records and the HTTP layer exports: stage timings, outcome counters and
the process's memory.

Framework-free on purpose: the service, the pipeline and the liveness code import only this module, and the API's
/metrics reads it, so no layer below the API needs to know Flask or Prometheus exists.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterator

# Seconds; a stage takes from a fraction of a millisecond (align) to seconds (a video on a small board).
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Histogram:
    """Cumulative-bucket histogram per label value; the caller holds no lock, this does."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self._lock = threading.Lock()
        self._counts: dict[str, list[int]] = {}
        self._sums: dict[str, float] = defaultdict(float)
        self._totals: dict[str, int] = defaultdict(int)

    def observe(self, label: str, value: float) -> None:
        with self._lock:
            counts = self._counts.setdefault(label, [0] * len(self.buckets))
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    counts[i] += 1
            self._sums[label] += value
            self._totals[label] += 1

    def snapshot(self) -> dict[str, tuple[list[int], float, int]]:
        """label -> (cumulative bucket counts, sum, count), copied under the lock."""
        with self._lock:
            return {k: (list(v), self._sums[k], self._totals[k]) for k, v in self._counts.items()}


class Counter:
    """Monotonic counts by a tuple of label values."""

    def __init__(self, labels: tuple[str, ...]) -> None:
        self.labels = labels
        self._lock = threading.Lock()
        self._values: dict[tuple[str, ...], int] = defaultdict(int)

    def inc(self, *values: str, by: int = 1) -> None:
        if len(values) != len(self.labels):
            raise ValueError(f"expected labels {self.labels}, got {values}")
        with self._lock:
            self._values[tuple(str(v) for v in values)] += by

    def snapshot(self) -> dict[tuple[str, ...], int]:
        with self._lock:
            return dict(self._values)


STAGES = Histogram(STAGE_BUCKETS)
LIVENESS = Counter(("outcome",))


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time a stage of a request (decode, detect, align, embed, liveness...), failed attempts included."""
    started = time.perf_counter()
    try:
        yield
    finally:
        STAGES.observe(name, time.perf_counter() - started)


def liveness_outcome(outcome: str) -> None:
    """Count one liveness decision ("live", "spoof", "no_face", "error"...)."""
    LIVENESS.inc(outcome)


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
