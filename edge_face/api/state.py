"""What the routes share: the configuration, the cipher, the service (once loaded) and request-scoped helpers.

The service may still be loading its models when the first request arrives: routes ask the holder for it and wait
(bounded) for the load, or get a 503 if it failed; /healthz and /readyz answer from the first second.
"""
from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from flask import Response, current_app, g, jsonify

from edge_face.api.errors import INTERNAL_ERROR, ApiError
from edge_face.api.metrics import Metrics
from edge_face.api.timeout import BoundedRunner, TimedService
from edge_face.config import Config, Limits
from edge_face.crypto import VendorCipher

log = logging.getLogger("edge_face.api")


class FaceServiceLike(Protocol):
    """The part of edge_face.service.FaceService the HTTP layer uses."""

    def verify_pair(self, first: Any, second: Any, *, auto_rotate: bool = False) -> Any: ...
    def verify_all_pairs(self, first: Any, second: Any, *, auto_rotate: bool = False) -> Any: ...
    def describe(self) -> dict: ...


class ServiceHolder:
    """The service, given ready-made or loaded once in a background thread.

    A request that arrives while the models load waits for them (at most the request timeout, else 30 s) instead
    of failing at once: after a restart, socket activation hands the new process the requests that queued while
    the old one was gone, and they deserve an answer, not a 503."""

    def __init__(self, service: FaceServiceLike | None = None, runner: BoundedRunner | None = None) -> None:
        self._service = service
        self._runner = runner  # when given, get() hands out the service with the per-request timeout
        self._failed = False
        self._lock = threading.Lock()
        self._settled = threading.Event()  # set once loaded or failed
        if service is not None:
            self._settled.set()
        self.start_wait = runner.timeout if runner is not None and runner.timeout else 30.0

    def load_in_background(self, factory: Callable[[], FaceServiceLike]) -> threading.Thread:
        def run() -> None:
            try:
                service = factory()
            except Exception:  # noqa: BLE001 - reported by /readyz and the log, the process stays up
                log.exception("loading the face service failed")
                with self._lock:
                    self._failed = True
                self._settled.set()
                return
            with self._lock:
                self._service = service
            self._settled.set()
            log.info("face service ready")

        thread = threading.Thread(target=run, name="edge-face-load", daemon=True)
        thread.start()
        return thread

    @property
    def status(self) -> str:
        """"ready", "loading" or "failed"."""
        with self._lock:
            return "ready" if self._service is not None else "failed" if self._failed else "loading"

    def peek(self) -> FaceServiceLike | None:
        with self._lock:
            return self._service

    def _loaded(self) -> FaceServiceLike:
        service = self.peek()
        if service is None and self._settled.wait(self.start_wait):
            service = self.peek()
        if service is None:
            raise ApiError(INTERNAL_ERROR, f"service not ready ({self.status})", 503)
        return service

    def _timed(self, service: Any) -> Any:
        return TimedService(service, self._runner) if self._runner is not None else service

    def get(self) -> FaceServiceLike:
        return self._timed(self._loaded())

    def get_liveness(self, limits: Limits) -> Any:
        """The liveness service over the loaded face service: built once per face service (keyed on the service
        itself, not on a per-request wrapper), its calls under the same per-request timeout."""
        from edge_face.liveness_service import LivenessService

        return self._timed(LivenessService.for_faces(self._loaded(), limits))


@dataclass(frozen=True)
class ApiState:
    config: Config
    cipher: VendorCipher
    services: ServiceHolder
    metrics: Metrics


def state() -> ApiState:
    return current_app.extensions["edge_face"]


def request_id() -> str:
    """A fresh uuid4 hex per request, created on first use (so even early failures carry one)."""
    rid = g.get("request_id")
    if rid is None:
        rid = g.request_id = uuid.uuid4().hex
    return rid


def respond(payload: dict[str, Any], status: int = 200) -> Response:
    """A JSON response in the vendor's shape, with the request_id appended; remembers the code for the log."""
    body = dict(payload)
    body["request_id"] = request_id()
    if "code" in payload:
        g.api_code = payload["code"]
    response = jsonify(body)
    response.status_code = status
    return response
