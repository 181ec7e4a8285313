"""Request counters and latency histograms in the Prometheus text format, without a client library.

Two metric families are all a kiosk needs; writing them by hand keeps the runtime free of a dependency.
"""
from __future__ import annotations

import threading
from collections import defaultdict

from edge_face import observability

# Seconds; a verification on a small board takes 50 ms to a few seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _le(bound: float) -> str:
    return repr(float(bound))


class Metrics:
    """Thread-safe: waitress serves requests from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = {}
        self._sums: dict[str, float] = defaultdict(float)
        self._counts: dict[str, int] = defaultdict(int)

    def observe(self, endpoint: str, code: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(endpoint, code, str(status))] += 1
            buckets = self._buckets.setdefault(endpoint, [0] * len(BUCKETS))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
            self._sums[endpoint] += seconds
            self._counts[endpoint] += 1

    def render(self, gauges: dict[str, tuple[str, float]] | None = None,
               models: dict[str, dict[str, str]] | None = None) -> str:
        """The exposition text; `gauges` adds name -> (help, value) lines such as readiness, `models` the backend
        running each model (FaceService.describe()["models"])."""
        lines: list[str] = []
        for name, (help_text, value) in (gauges or {}).items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value:g}"]
        if models:
            name = "edge_face_model_backend"
            lines += [f"# HELP {name} 1 for the backend running each model; fallback=1 when a configured CPU "
                      "fallback replaced the accelerator.", f"# TYPE {name} gauge"]
            for model, info in sorted(models.items()):
                lines.append(f'{name}{{model="{_label(model)}",id="{_label(info.get("id", ""))}",'
                             f'backend="{_label(info.get("backend", ""))}",'
                             f'fallback="{1 if "fallback_from" in info else 0}"}} 1')
        with self._lock:
            lines += ["# HELP edge_face_http_requests_total HTTP requests by endpoint, API code and HTTP status.",
                      "# TYPE edge_face_http_requests_total counter"]
            for (endpoint, code, status), n in sorted(self._requests.items()):
                lines.append(f'edge_face_http_requests_total{{endpoint="{_label(endpoint)}",code="{_label(code)}",'
                             f'status="{status}"}} {n}')
            name = "edge_face_http_request_duration_seconds"
            lines += [f"# HELP {name} Time from the request reaching the app to its response.",
                      f"# TYPE {name} histogram"]
            for endpoint in sorted(self._buckets):
                ep = _label(endpoint)
                for bound, n in zip(BUCKETS, self._buckets[endpoint]):
                    lines.append(f'{name}_bucket{{endpoint="{ep}",le="{_le(bound)}"}} {n}')
                lines.append(f'{name}_bucket{{endpoint="{ep}",le="+Inf"}} {self._counts[endpoint]}')
                lines.append(f'{name}_sum{{endpoint="{ep}"}} {self._sums[endpoint]:.6f}')
                lines.append(f'{name}_count{{endpoint="{ep}"}} {self._counts[endpoint]}')
        lines += _process_lines()
        return "\n".join(lines) + "\n"


def _process_lines() -> list[str]:
    """What the service records through edge_face.observability: stages, liveness outcomes, memory."""
    name = "edge_face_stage_duration_seconds"
    lines = [f"# HELP {name} Time spent in each processing stage (decode, detect, align, embed, liveness...).",
             f"# TYPE {name} histogram"]
    for stage, (counts, total, n) in sorted(observability.STAGES.snapshot().items()):
        st = _label(stage)
        for bound, c in zip(observability.STAGES.buckets, counts):
            lines.append(f'{name}_bucket{{stage="{st}",le="{_le(bound)}"}} {c}')
        lines += [f'{name}_bucket{{stage="{st}",le="+Inf"}} {n}', f'{name}_sum{{stage="{st}"}} {total:.6f}',
                  f'{name}_count{{stage="{st}"}} {n}']
    name = "edge_face_liveness_outcomes_total"
    lines += [f"# HELP {name} Liveness decisions by outcome.", f"# TYPE {name} counter"]
    for (outcome,), n in sorted(observability.LIVENESS.snapshot().items()):
        lines.append(f'{name}{{outcome="{_label(outcome)}"}} {n}')
    name = "process_resident_memory_bytes"
    lines += [f"# HELP {name} Resident memory size in bytes (VmRSS).", f"# TYPE {name} gauge",
              f"{name} {observability.rss_bytes()}"]
    return lines
