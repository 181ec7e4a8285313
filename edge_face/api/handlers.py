"""Every failure of a request becomes its documented answer here, and nowhere else.

`DOMAIN_ERRORS` is the one table from the exceptions of the layers below (services, liveness, camera, video) to
(SenseID code, FRS code, HTTP status); the routes raise or let through, and never pick a code for a domain failure.
Paths under /v2/ answer in Huawei's shape ({"error_code", "error_msg"}), every other path in SenseID's
({"code", "message", "request_id"}); tracebacks go to the server log only.
"""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Callable

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from edge_face.api.errors import (
    CAMERA_TIMEOUT,
    CAMERA_UNAVAILABLE,
    CORRUPTED_LIVENESS_DATA,
    DETECTION_FAILED,
    FACE_OCCLUSION,
    INTERNAL_ERROR,
    INVALID_ARGUMENT,
    INVALID_CONTENT_LENGTH,
    INVALID_VIDEO,
    LIVENESS_FAILED,
    ApiError,
)
from edge_face.api.frs_errors import BAD_PARAMETER, BAD_SIZE, INTERNAL, NO_FACE, NO_SUCH_API, FrsError, from_api_error
from edge_face.api.frs_errors import owns as frs_owns
from edge_face.api.state import request_id, respond, state
from edge_face.camera import CameraError, CameraTimeout, NoCamera
from edge_face.imaging.video import VideoError
from edge_face.liveness.analyse import NoTrackableFace
from edge_face.liveness.package import PackageError
from edge_face.runtime import Overloaded, RequestTimedOut
from edge_face.services import ServiceNotReady
from edge_face.services.faces import FaceOccluded, NoFaceFound

log = logging.getLogger("edge_face.api")

_FRS_IMAGE = {"first": "image1", "second": "image2"}


@dataclass(frozen=True)
class Rule:
    """How one domain exception is answered. `code` may depend on the exception (a video over its limit is 2004,
    an unreadable one 2008); ApiError puts the vendor's text for the code before `detail`."""

    code: int | Callable[[Exception], int]
    frs: str
    status: int | None = None  # None: the code's own status (api/errors.py)
    detail: Callable[[Exception], str] = str
    frs_detail: Callable[[Exception], str] = str
    headers: Callable[[Exception], dict[str, str]] = lambda e: {}

    def senseid(self, exc: Exception) -> ApiError:
        code = self.code(exc) if callable(self.code) else self.code
        return ApiError(code, self.detail(exc), self.status)

    def huawei(self, exc: Exception) -> FrsError:
        return FrsError(self.frs, self.frs_detail(exc), self.status)


DOMAIN_ERRORS: dict[type[Exception], Rule] = {
    NoFaceFound: Rule(DETECTION_FAILED, NO_FACE, detail=lambda e: f"no face in the {e.which} image",
                      frs_detail=lambda e: f"({_FRS_IMAGE.get(e.which, e.which)})"),
    FaceOccluded: Rule(FACE_OCCLUSION, BAD_PARAMETER,
                       detail=lambda e: f"{', '.join(e.regions)} covered in the {e.which} image"),
    VideoError: Rule(lambda e: INVALID_CONTENT_LENGTH if e.kind == "length" else INVALID_VIDEO, BAD_SIZE),
    NoTrackableFace: Rule(LIVENESS_FAILED, INTERNAL),
    PackageError: Rule(CORRUPTED_LIVENESS_DATA, BAD_PARAMETER),
    # A camera that does not exist on this device is permanent (404), not an unavailability to retry (503).
    NoCamera: Rule(CAMERA_UNAVAILABLE, INTERNAL, 404),
    CameraTimeout: Rule(CAMERA_TIMEOUT, INTERNAL),
    CameraError: Rule(CAMERA_UNAVAILABLE, INTERNAL),
    ServiceNotReady: Rule(INTERNAL_ERROR, INTERNAL, 503),
    RequestTimedOut: Rule(INTERNAL_ERROR, INTERNAL, 503),
    # The queue in front of the models is full: refused at once, with when to come back (RFC 9110 Retry-After).
    Overloaded: Rule(INTERNAL_ERROR, INTERNAL, 503, headers=lambda e: {"Retry-After": str(e.retry_after)}),
}


def rule_for(exc: Exception) -> Rule | None:
    """The rule of the nearest class of `exc` in the table (CameraTimeout before CameraError)."""
    for cls in type(exc).__mro__:
        if cls in DOMAIN_ERRORS:
            return DOMAIN_ERRORS[cls]
    return None


def register(app: Flask) -> None:
    """The app's error handlers, once for every blueprint."""
    app.register_error_handler(FrsError, render_frs)
    app.register_error_handler(ApiError, _api_error)
    for cls in DOMAIN_ERRORS:
        app.register_error_handler(cls, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def render_frs(exc: FrsError) -> Response:
    return frs_respond(exc.body(), exc.status)


def frs_respond(payload: dict, status: int = 200) -> Response:
    """A response in Huawei's shape: exactly the keys its clients expect (the request id is in X-Request-Id)."""
    g.api_code = payload.get("error_code", "ok")  # for the access log and the metrics
    response = jsonify(payload)
    response.status_code = status
    return response


def _api_error(exc: ApiError) -> Response:
    if frs_owns(request.path):
        return render_frs(from_api_error(exc))
    response = respond(exc.body(), exc.status)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="edge_face"'
    return response


def _domain_error(exc: Exception) -> Response:
    rule = rule_for(exc)
    if rule is None:  # pragma: no cover - registered only for the table's classes
        return _unexpected(exc)
    response = render_frs(rule.huawei(exc)) if frs_owns(request.path) else _api_error(rule.senseid(exc))
    response.headers.update(rule.headers(exc))
    return response


def outside_flask(exc: Exception, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of an error answered before the app sees the request (the WSGI server refusing
    a body over the memory budget or far over the size limit, api/connections.py): the same table, the same
    vendor shapes."""
    if isinstance(exc, ApiError):
        senseid, huawei, extra = exc, from_api_error(exc), {}
    else:
        rule = rule_for(exc)
        if rule is None:
            raise TypeError(f"{type(exc).__name__} is not in DOMAIN_ERRORS")
        senseid, huawei, extra = rule.senseid(exc), rule.huawei(exc), rule.headers(exc)
    rid = uuid.uuid4().hex
    if frs_owns(path):
        status, payload = huawei.status, huawei.body()
    else:
        status, payload = senseid.status, {**senseid.body(), "request_id": rid}
    headers = [("Content-Type", "application/json"), ("X-Request-Id", rid), *extra.items()]
    return status, headers, json.dumps(payload).encode()


def too_large() -> ApiError:
    """2004 for a body over the limit (413), from its Content-Length or from Werkzeug's own check."""
    limit = state().config.limits.max_body_bytes
    return ApiError(INVALID_CONTENT_LENGTH, f"request body is over {limit} bytes", 413)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status >= 500:
        return _unexpected(exc)
    if status == 413:
        if frs_owns(request.path):
            limit = state().config.limits.max_body_bytes
            return render_frs(FrsError(BAD_SIZE, f"The request body is over {limit} bytes.", 413))
        return _api_error(too_large())
    if frs_owns(request.path):  # unknown paths and methods under /v2/ answer as Huawei's gateway does
        response = render_frs(FrsError(NO_SUCH_API if status in (404, 405) else BAD_PARAMETER, status=status))
    else:
        messages = {404: "not found", 405: "method not allowed"}
        response = respond(ApiError(INVALID_ARGUMENT, messages.get(status, exc.name.lower()), status).body(), status)
    if status == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
        return _http_error(exc)
    # The traceback goes to the server log only; it names code lines, not request data.
    cause = getattr(exc, "original_exception", None) or exc
    log.error("internal error request_id=%s", request_id(), exc_info=(type(cause), cause, cause.__traceback__))
    if frs_owns(request.path):
        return render_frs(FrsError(INTERNAL))
    return respond(ApiError(INTERNAL_ERROR, "unexpected failure, logged under this request_id").body(), 500)
