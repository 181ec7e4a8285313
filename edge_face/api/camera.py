"""The live camera over HTTP: edge_face's session endpoints (/camera/...) and SenseID §1.3, which takes the sealed
package a session returns.

The camera endpoints are ours (no vendor has them): a kiosk page starts a session, shows the preview, and hands
the package with the ID photo to 1.3. Camera frames are never written to disk or logs; the preview is a JPEG
made in memory per request.
"""
from __future__ import annotations

import base64

from flask import Blueprint, Response, request

from edge_face import routes
from edge_face.api.auth import check_api_key
from edge_face.api.errors import INVALID_ARGUMENT, INVALID_IMAGE_TYPE, SUCCESS, ApiError
from edge_face.api.payload import decode_field, decrypt_field, read_fields
from edge_face.api.state import respond, state
from edge_face.imaging.encode import encode_jpeg
from edge_face.liveness.package import MAX_NONCE_CHARS
from edge_face.services.camera import SessionResult

bp = Blueprint("camera", __name__)

LIVENESS_FILE = "liveness_file"
NONCE = "nonce"


@bp.before_request
def _authenticate() -> None:
    check_api_key(state().config.api_keys)


def run_session(audience: str = "api", nonce: str | None = None, turn: str | None = None) -> SessionResult:
    """A camera liveness session of this app's camera, its package sealed for `audience` and `nonce`. Not under the
    request timeout: the session is bounded by its own deadlines (camera.session_seconds, a capture timeout on every
    frame, the wait for the camera lock)."""
    services = state().services
    return services.camera.session(services.liveness(), audience=audience, nonce=nonce, turn=turn)


def nonce_field(value: str | bytes | None) -> str | None:
    """The optional caller nonce: 1..MAX_NONCE_CHARS characters of text (1200 otherwise)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(INVALID_ARGUMENT, "nonce must be UTF-8 text") from None
    if not 0 < len(value) <= MAX_NONCE_CHARS:
        raise ApiError(INVALID_ARGUMENT, f"nonce must be 1..{MAX_NONCE_CHARS} characters")
    return value


def session_body(session: SessionResult) -> dict:
    """The session's answer: the liveness verdict and, when live, the sealed package (Base64)."""
    result = session.liveness
    body: dict = {"code": SUCCESS, "passed": bool(result.passed), "liveness_score": float(result.score),
                  "liveness_status": result.status, "decided_by": result.decided_by}
    if session.package is not None:
        body["package"] = base64.b64encode(session.package).decode("ascii")
    return body


@bp.post(routes.CAMERA_SESSION, provide_automatic_options=False)
def liveness_session() -> Response:
    """Silent liveness of the person in front of the camera for `camera.session_seconds`; when live, a sealed
    package for 1.3 (Base64), bound to the optional `nonce` (1.3 must then present the same)."""
    fields = read_fields(request, (), (NONCE,), strict=True)  # our own endpoint: a field it does not take is a mistake to report
    return respond(session_body(run_session("api", nonce_field(fields.get(NONCE)))))


@bp.get(routes.CAMERA_STATUS)
def camera_status() -> Response:
    """The camera's state (none, closed, opening, open, busy, failed, timeout) and counters."""
    return respond({"code": SUCCESS, **state().services.camera.describe()})


@bp.get(routes.CAMERA_FRAME)
def camera_frame() -> Response:
    """The newest camera frame as JPEG, for a kiosk's preview (poll it; nothing is kept)."""
    _, _, frame = state().services.camera.require_owner().next_frame(0)
    response = Response(encode_jpeg(frame, 80), mimetype="image/jpeg")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post(routes.PACKAGE_VERIFY, provide_automatic_options=False)
def liveness_image_verification() -> Response:
    """§1.3: the live face of a sealed package (from /camera/liveness_session) against a photo."""
    st = state()
    fields = read_fields(request, (LIVENESS_FILE, "encrypted_image"), ("auto_rotate", "check_quality", NONCE))
    auto_rotate, check_quality = fields.flag("auto_rotate"), fields.flag("check_quality")
    data = fields.get(LIVENESS_FILE)
    if not isinstance(data, bytes):
        raise ApiError(INVALID_ARGUMENT, "liveness_file must be sent as a multipart file")
    camera = st.services.camera
    package = camera.open_package(data, audience="api", nonce=nonce_field(fields.get(NONCE)))
    photo = decode_field(decrypt_field(fields, "encrypted_image", st.cipher), "encrypted_image", st.config.limits,
                         INVALID_IMAGE_TYPE)
    score = st.run(camera.verify_package, st.services.faces(), package, photo.pixels, auto_rotate=auto_rotate,
                   check_quality=check_quality)
    return respond({"code": SUCCESS, "verification_score": score})
