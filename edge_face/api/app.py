"""create_app(config): the Flask app with its limits, request ids, access log, metrics and JSON error handlers.

Every response an API client can get is JSON in the vendor's shape with a request_id, whatever went wrong; the
log line of a request names only its method, path, code, status, duration and request_id (never field contents).
"""
from __future__ import annotations

import logging
import time
from urllib.parse import quote

from flask import Flask, Response, g, request

from edge_face.api import camera, frs, handlers, kiosk, liveness, openapi, ops, senseid
from edge_face.api.connections import InMemoryRequest
from edge_face.api.errors import INVALID_ARGUMENT, ApiError
from edge_face.api.hosts import check_host
from edge_face.api.metrics import Metrics
from edge_face.api.state import ApiState, request_id, state
from edge_face.config import Config
from edge_face.crypto import VendorCipher
from edge_face.runtime import lanes_from_config
from edge_face.services import FaceService, Services

access_log = logging.getLogger("edge_face.api.access")

_BODY_METHODS = ("POST", "PUT", "PATCH")


def create_app(config: Config, faces: FaceService | None = None) -> Flask:
    """The WSGI app over Services.from_config(config). Without `faces` (a face service already loaded, as tests
    share one), the models load in the background and /readyz says when they are ready."""
    app = Flask("edge_face.api")
    app.request_class = InMemoryRequest  # multipart file parts never spool to a temporary file
    limits = config.limits
    app.config.update(
        MAX_CONTENT_LENGTH=limits.max_body_bytes,
        # Werkzeug caps a single non-file form field at 500 kB by default; an encrypted photo is far larger.
        MAX_FORM_MEMORY_SIZE=limits.max_body_bytes,
        MAX_FORM_PARTS=100,
    )
    app.json.sort_keys = False  # keep the vendor's order: code first
    app.json.compact = True

    services = Services.from_config(config, faces)
    app.extensions["edge_face"] = ApiState(
        config=config,
        cipher=VendorCipher(config.aes_key, config.aes_iv),
        services=services,
        metrics=Metrics(),
        runner=lanes_from_config(config),
    )
    if faces is None:
        services.load_in_background()

    app.before_request(_start)
    app.after_request(_finish)
    handlers.register(app)
    for blueprint in (senseid.bp, liveness.bp, camera.bp, ops.bp, frs.bp, openapi.bp, kiosk.bp):
        app.register_blueprint(blueprint)
    return app


def _start() -> None:
    """Runs first for every request, before routing errors are raised and before any body is read."""
    g.started = time.perf_counter()
    request_id()
    check_host(request, state().config.allowed_hosts)
    if request.routing_exception is not None or request.method not in _BODY_METHODS:
        return
    env = request.environ
    # Waitress de-chunks bodies and sets CONTENT_LENGTH; other servers may pass the header through.
    chunked = "chunked" in env.get("HTTP_TRANSFER_ENCODING", "").lower()
    if not env.get("CONTENT_LENGTH") and not chunked:
        # Without a length the server cannot tell where the body ends: waitress reads any unframed bytes as the
        # next request (and answers it with its own 400); a WSGI app may not set Connection: close to prevent it.
        raise ApiError(INVALID_ARGUMENT, "Content-Length is required", 411)
    length = request.content_length or 0
    if length > state().config.limits.max_body_bytes:
        raise handlers.too_large()


def log_text(text: str) -> str:
    """A request's path (or method) as it may appear in a log line: percent-decoded control characters and
    non-ASCII encoded again, so that "%0A" cannot start a forged line of a text log."""
    return quote(text, safe="/:@!$&'()*+,;=-._~")


def _finish(response: Response) -> Response:
    """Access log line, metrics and the X-Request-Id header; also runs after the error handlers."""
    rid = request_id()
    response.headers["X-Request-Id"] = rid
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    code = str(g.get("api_code", "-"))
    rule = request.url_rule
    endpoint = rule.rule if rule is not None else "unmatched"
    state().metrics.observe(endpoint, code, response.status_code, seconds)
    access_log.info("%s %s code=%s status=%d ms=%.1f request_id=%s", log_text(request.method),
                    log_text(request.path), code, response.status_code, seconds * 1000, rid)
    return response
