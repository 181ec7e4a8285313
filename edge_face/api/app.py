"""create_app(config): the Flask app with its limits, request ids, access log, metrics and JSON error handlers.

Every response an API client can get is JSON in the vendor's shape with a request_id, whatever went wrong; the
log line of a request names only its method, path, code, status, duration and request_id (never field contents).
"""
from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from edge_face.api import camera, frs, kiosk, liveness, openapi, ops, senseid
from edge_face.api.errors import (
    INTERNAL_ERROR,
    INVALID_ARGUMENT,
    INVALID_CONTENT_LENGTH,
    ApiError,
)
from edge_face.api.metrics import Metrics
from edge_face.api.timeout import BoundedRunner
from edge_face.api.state import ApiState, FaceServiceLike, ServiceHolder, request_id, respond, state
from edge_face.config import Config
from edge_face.crypto import VendorCipher

log = logging.getLogger("edge_face.api")
access_log = logging.getLogger("edge_face.api.access")

_BODY_METHODS = ("POST", "PUT", "PATCH")


def _load_service(config: Config) -> FaceServiceLike:
    """The face service, and the liveness service over it, both loaded and warmed before /readyz says ready."""
    from edge_face.liveness_service import LivenessService  # heavy (models): imported only when the app loads them
    from edge_face.service import FaceService

    service = FaceService.from_config(config)
    LivenessService.for_faces(service, config.limits).warm_up()
    return service


def create_app(config: Config, service: FaceServiceLike | None = None) -> Flask:
    """The WSGI app. Without `service`, FaceService loads in the background and /readyz says when it is ready."""
    app = Flask("edge_face.api")
    limits = config.limits
    app.config.update(
        MAX_CONTENT_LENGTH=limits.max_body_bytes,
        # Werkzeug caps a single non-file form field at 500 kB by default; an encrypted photo is far larger.
        MAX_FORM_MEMORY_SIZE=limits.max_body_bytes,
        MAX_FORM_PARTS=100,
    )
    app.json.sort_keys = False  # keep the vendor's order: code first
    app.json.compact = True

    services = ServiceHolder(service, BoundedRunner(config.server_threads, config.request_timeout))
    app.extensions["edge_face"] = ApiState(
        config=config,
        cipher=VendorCipher(config.aes_key, config.aes_iv),
        services=services,
        metrics=Metrics(),
    )
    if service is None:
        services.load_in_background(lambda: _load_service(config))

    app.before_request(_start)
    app.after_request(_finish)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    app.register_blueprint(senseid.bp)
    app.register_blueprint(liveness.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(frs.bp)
    app.register_blueprint(openapi.bp)
    camera.install(app, config)  # the camera owner (if any), the package sealer, /camera/* and 1.3
    app.register_blueprint(kiosk.bp)  # the page for the device's own screen (loopback only)
    return app


def _start() -> None:
    """Runs first for every request, before routing errors are raised and before any body is read."""
    g.started = time.perf_counter()
    request_id()
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
        raise _too_large()


def _too_large() -> ApiError:
    limit = state().config.limits.max_body_bytes
    return ApiError(INVALID_CONTENT_LENGTH, f"invalid content length: request body is over {limit} bytes", 413)


def _finish(response: Response) -> Response:
    """Access log line, metrics and the X-Request-Id header; also runs after the error handlers."""
    rid = request_id()
    response.headers["X-Request-Id"] = rid
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    code = str(g.get("api_code", "-"))
    rule = request.url_rule
    endpoint = rule.rule if rule is not None else "unmatched"
    state().metrics.observe(endpoint, code, response.status_code, seconds)
    access_log.info("%s %s code=%s status=%d ms=%.1f request_id=%s", request.method, request.path, code,
                    response.status_code, seconds * 1000, rid)
    return response


def _api_error(exc: ApiError) -> Response:
    response = respond(exc.body(), exc.status)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="edge_face"'
    return response


def _http_error(exc: HTTPException) -> Response:
    if frs.owns(request.path):  # unknown paths and methods under /v2/ answer in Huawei's shape
        return frs.render_http_error(exc)
    status = exc.code or 500
    if status == 413:
        return _api_error(_too_large())
    if status >= 500:
        return _unexpected(exc)
    messages = {404: "not found", 405: "method not allowed"}
    response = respond({"code": INVALID_ARGUMENT, "message": messages.get(status, "invalid argument")}, status)
    if status == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
        return _http_error(exc)
    # The traceback goes to the server log only; it names code lines, not request data.
    cause = getattr(exc, "original_exception", None) or exc
    log.error("internal error request_id=%s", request_id(), exc_info=(type(cause), cause, cause.__traceback__))
    return respond({"code": INTERNAL_ERROR, "message": "internal error"}, 500)
