"""What the routes share: the configuration, the cipher, the services, the request runner and request-scoped
helpers. The services may still be loading their models when the first request arrives (edge_face.services): a
route waits (bounded) for them, or gets a 503; /healthz and /readyz answer from the first second.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from flask import Response, current_app, g, jsonify

from edge_face.api.metrics import Metrics
from edge_face.config import Config
from edge_face.crypto import VendorCipher
from edge_face.runtime import Lanes
from edge_face.services import Services

T = TypeVar("T")


@dataclass(frozen=True)
class ApiState:
    config: Config
    cipher: VendorCipher
    services: Services
    metrics: Metrics
    runner: Lanes

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on an inference lane, under the per-request timeout (RequestTimedOut: 503) and
        the queue's bound (Overloaded: 503 + Retry-After). Routes pass the model work through here, so what a
        client may wait for is visible at the route; /healthz and /readyz never do, so they never wait behind it."""
        return self.runner.call(fn, *args, **kwargs)


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
