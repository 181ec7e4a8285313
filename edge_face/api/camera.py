"""The live camera over HTTP: edge_face's session endpoints (/camera/...) and SenseID §1.3, which takes the sealed
package a session returns.

The camera endpoints are ours (no vendor has them): a kiosk page starts a session, shows the preview, and hands
the package with the ID photo to 1.3. Camera frames are never written to disk or logs; the preview is a JPEG
made in memory per request.
"""
from __future__ import annotations

import base64
import logging

import cv2
from flask import Blueprint, Flask, Response, current_app, request

from edge_face.api.errors import (
    ApiError,
    CAMERA_TIMEOUT,
    CAMERA_UNAVAILABLE,
    CORRUPTED_LIVENESS_DATA,
    INTERNAL_ERROR,
    INVALID_ARGUMENT,
    INVALID_IMAGE_TYPE,
    LIVENESS_FAILED,
    SUCCESS,
    face_errors,
)
from edge_face.api.payload import decode_field, decrypt_field, read_fields
from edge_face.api.senseid import check_api_key
from edge_face.api.state import respond, state
from edge_face.camera import CameraError, CameraTimeout, NoCamera, owner_for
from edge_face.camera_service import CameraLivenessService
from edge_face.config import Config
from edge_face.liveness.analyse import NoTrackableFace
from edge_face.liveness.package import PackageError, PackageSealer, default_device_id, process_key

log = logging.getLogger("edge_face.api")
bp = Blueprint("camera", __name__)

LIVENESS_FILE = "liveness_file"
_EXTENSION = "edge_face.camera"


def install(app: Flask, config: Config) -> None:
    """The camera owner (when a camera is configured), the package sealer and the routes, on `app`."""
    if config.device_key:
        key = bytes.fromhex(config.device_key)
    else:
        log.warning("no device_key configured: liveness packages are sealed under a random key of this process "
                    "and stop opening when it restarts")
        key = process_key()
    cam = config.camera
    sealer = PackageSealer(key, config.device_id or default_device_id(), cam.package_ttl, cam.clock_skew)
    owner = owner_for(cam)
    app.extensions[_EXTENSION] = CameraLivenessService(owner, sealer, cam.session_seconds, config.model_variant)
    app.register_blueprint(bp)


def _camera() -> CameraLivenessService:
    return current_app.extensions[_EXTENSION]


def describe() -> dict | None:
    """The state of this app's camera for /readyz; None without one. (Per app, not a process-wide probe: tests
    run several servers in one process.)"""
    service = current_app.extensions.get(_EXTENSION)
    return service.owner.describe() if service is not None and service.owner is not None else None


@bp.before_request
def _authenticate() -> None:
    check_api_key(state().config.api_keys)


def _camera_error(exc: CameraError) -> ApiError:
    if isinstance(exc, CameraTimeout):
        return ApiError(CAMERA_TIMEOUT, f"camera timeout: {exc}")
    if isinstance(exc, NoCamera):  # permanent on this device, not a temporary unavailability: 404, not 503
        return ApiError(CAMERA_UNAVAILABLE, f"camera unavailable: {exc}", 404)
    return ApiError(CAMERA_UNAVAILABLE, f"camera unavailable: {exc}")


@bp.post("/camera/liveness_session", provide_automatic_options=False)
def liveness_session() -> Response:
    """Silent liveness of the person in front of the camera for `camera.session_seconds`; when live, a sealed
    package for 1.3 (Base64)."""
    read_fields(request, ())  # no fields: refuse any, like every endpoint refuses unknown ones
    st = state()
    liveness = st.services.get_liveness(st.config.limits)
    try:
        session = _camera().session(liveness)
    except CameraError as exc:
        raise _camera_error(exc) from None
    except NoTrackableFace:
        raise ApiError(LIVENESS_FAILED, "liveness silent check failed: no face could be tracked in front of the "
                                        "camera") from None
    result = session.liveness
    body: dict = {"code": SUCCESS, "passed": bool(result.passed), "liveness_score": float(result.score),
                  "liveness_status": result.status}
    if session.package is not None:
        body["package"] = base64.b64encode(session.package).decode("ascii")
    return respond(body)


@bp.get("/camera/status")
def camera_status() -> Response:
    """The camera's state (none, closed, opening, open, busy, failed, timeout) and counters."""
    owner = _camera().owner
    return respond({"code": SUCCESS, **(owner.describe() if owner is not None else {"state": "none"})})


@bp.get("/camera/frame.jpg")
def camera_frame() -> Response:
    """The newest camera frame as JPEG, for a kiosk's preview (poll it; nothing is kept)."""
    owner = _camera().owner
    if owner is None:
        raise _camera_error(NoCamera("no camera is configured on this device"))
    try:
        _, _, frame = owner.next_frame(0)
    except CameraError as exc:
        raise _camera_error(exc) from None
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise ApiError(INTERNAL_ERROR, "could not encode the camera frame")
    response = Response(jpeg.tobytes(), mimetype="image/jpeg")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/identity/liveness_image_verification/stateless", provide_automatic_options=False)
def liveness_image_verification() -> Response:
    """§1.3: the live face of a sealed package (from /camera/liveness_session) against a photo."""
    st = state()
    fields = read_fields(request, (LIVENESS_FILE, "encrypted_image"), ("auto_rotate", "check_quality"))
    auto_rotate, check_quality = fields.flag("auto_rotate"), fields.flag("check_quality")
    data = fields.get(LIVENESS_FILE)
    if not isinstance(data, bytes):
        raise ApiError(INVALID_ARGUMENT, "liveness_file must be sent as a multipart file")
    camera = _camera()
    try:
        package = camera.open_package(data)
    except PackageError as exc:
        raise ApiError(CORRUPTED_LIVENESS_DATA, f"corrupted liveness data error: {exc}") from None
    photo = decode_field(decrypt_field(fields, "encrypted_image", st.cipher), "encrypted_image", st.config.limits,
                         INVALID_IMAGE_TYPE)
    with face_errors():
        score = camera.verify_package(st.services.get(), package, photo, auto_rotate=auto_rotate,
                                      check_quality=check_quality)
    return respond({"code": SUCCESS, "verification_score": score})
