"""Per-app request metrics and the /metrics exposition, through prometheus_client.

Each app counts into its own registry: tests run several apps in one process and each /metrics must show only its
own requests. A scrape renders the values read at scrape time (readiness, backends), that registry, and the
process-wide one of edge_face.observability (stages, liveness outcomes, memory).
"""
from __future__ import annotations

from typing import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from edge_face import observability

# The text format generate_latest writes, and what prometheus_client's own exporters send by default. Its
# CONTENT_TYPE_LATEST says version=1.0.0 in 0.26.0: the same body for our names, but this service has always
# told scrapers and clients 0.0.4.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# Seconds; a verification on a small board takes 50 ms to a few seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Without this every counter and histogram also exports a <name>_created series: names no dashboard knows.
# (Process-wide switch of the library; nothing else in this process exports metrics.)
disable_created_metrics()


class Metrics:
    """One app's request counts and latencies; prometheus_client does the locking (waitress serves from threads)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter("edge_face_http_requests", "HTTP requests by endpoint, API code and HTTP status.",
                                 ("endpoint", "code", "status"), registry=self.registry)
        self._duration = Histogram("edge_face_http_request_duration_seconds",
                                   "Time from the request reaching the app to its response.", ("endpoint",),
                                   buckets=BUCKETS, registry=self.registry)

    def observe(self, endpoint: str, code: str, status: int, seconds: float) -> None:
        self._requests.labels(endpoint, code, str(status)).inc()
        self._duration.labels(endpoint).observe(seconds)

    def render(self, gauges: Mapping[str, tuple[str, float]] | None = None,
               models: Mapping[str, Mapping[str, str]] | None = None) -> str:
        """The exposition text; `gauges` adds name -> (help, value) such as readiness, `models` the backend running
        each model (FaceService.describe()["models"])."""
        scrape = _Chain(_ScrapeTime(gauges or {}, models), self.registry, observability.REGISTRY)
        return generate_latest(scrape).decode("utf-8")


class _ScrapeTime:
    """Values the caller reads at scrape time, so they are never stale: readiness and the backend of each model."""

    def __init__(self, gauges: Mapping[str, tuple[str, float]],
                 models: Mapping[str, Mapping[str, str]] | None) -> None:
        self._gauges = gauges
        self._models = models

    def collect(self) -> Iterable[Metric]:
        for name, (help_text, value) in self._gauges.items():
            yield GaugeMetricFamily(name, help_text, value=value)
        if self._models:  # absent until the models are loaded, as before
            family = GaugeMetricFamily("edge_face_model_backend", "1 for the backend running each model; "
                                       "fallback=1 when a configured CPU fallback replaced the accelerator.",
                                       labels=("model", "id", "backend", "fallback"))
            for model, info in sorted(self._models.items()):
                family.add_metric([model, info.get("id", ""), info.get("backend", ""),
                                   "1" if "fallback_from" in info else "0"], 1)
            yield family


class _Chain:
    """Several collectors as one, for generate_latest (which takes one); none of them is registered twice."""

    def __init__(self, *collectors: Collector) -> None:
        self._collectors = collectors

    def collect(self) -> Iterable[Metric]:
        for collector in self._collectors:
            yield from collector.collect()
