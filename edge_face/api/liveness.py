"""SenseID §3.1 (silent liveness of a video) and §1.4 (the same, then its face against a photo), API.md.

Fields are checked and the video decrypted before anything is decoded; the video is decoded in memory only.
Optional keys appear exactly when the vendor's table says (`liveness_status` with return_status; the frame and
its face only when passed and asked for).
"""
from __future__ import annotations

import base64

import cv2
from flask import Blueprint, Response, request

from edge_face.api.errors import (
    ApiError,
    INVALID_CONTENT_LENGTH,
    INVALID_IMAGE_TYPE,
    INVALID_VIDEO,
    LIVENESS_FAILED,
    SUCCESS,
    face_errors,
)
from edge_face.api.payload import decode_field, decrypt_field, read_fields
from edge_face.api.senseid import check_api_key
from edge_face.api.state import respond, state
from edge_face.imaging.video import VideoError
from edge_face.liveness.analyse import LivenessResult, NoTrackableFace
from edge_face.liveness_service import (
    LivenessService,
)

bp = Blueprint("liveness", __name__)

VIDEO = "encrypted_video"
RETURNS = ("return_image", "return_face_image", "return_status")


@bp.before_request
def _authenticate() -> None:
    check_api_key(state().config.api_keys)


def _jpeg(bgr) -> str:
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise ApiError(5000, "could not encode the selected frame")
    return base64.b64encode(buf.tobytes()).decode("ascii")


def _liveness_body(result: LivenessResult, flags: dict[str, bool]) -> dict:
    body: dict = {"code": SUCCESS, "passed": bool(result.passed), "liveness_score": float(result.score)}
    if flags["return_status"]:
        body["liveness_status"] = result.status
    if result.passed and flags["return_image"]:
        body["image_timestamp"] = round(float(result.image_timestamp), 3)
        body["base64_image"] = _jpeg(result.image)
    if result.passed and flags["return_face_image"]:
        body["base64_face_image"] = _jpeg(result.face_image)
    return body


def _run(call):
    """The service call, its documented failures mapped to SenseID codes."""
    try:
        return call()
    except VideoError as exc:
        code = INVALID_CONTENT_LENGTH if exc.kind == "length" else INVALID_VIDEO
        raise ApiError(code, f"{'video over its limit' if code == INVALID_CONTENT_LENGTH else 'invalid video'}: "
                             f"{exc}") from None
    except NoTrackableFace:
        raise ApiError(LIVENESS_FAILED, "liveness silent check failed: no face could be tracked in the video") from None


def _service() -> LivenessService:  # in fact the service under the per-request timeout (same methods)
    st = state()
    return st.services.get_liveness(st.config.limits)


@bp.post("/liveness/silent_detection/stateless", provide_automatic_options=False)
def silent_detection() -> Response:
    """§3.1: is the person in the video live?"""
    st = state()
    fields = read_fields(request, (VIDEO,), RETURNS)
    flags = {name: fields.flag(name) for name in RETURNS}
    video = decrypt_field(fields, VIDEO, st.cipher)
    service = _service()
    result = _run(lambda: service.detect_video(video))
    return respond(_liveness_body(result, flags))


@bp.post("/identity/silent_image_verification/stateless", provide_automatic_options=False)
def silent_image_verification() -> Response:
    """§1.4: liveness of the video, and its selected face against the photo (verification_score when passed)."""
    st = state()
    fields = read_fields(request, (VIDEO, "encrypted_image"), ("auto_rotate", "check_quality") + RETURNS)
    flags = {name: fields.flag(name) for name in RETURNS}
    auto_rotate, check_quality = fields.flag("auto_rotate"), fields.flag("check_quality")
    video = decrypt_field(fields, VIDEO, st.cipher)
    photo = decode_field(decrypt_field(fields, "encrypted_image", st.cipher), "encrypted_image", st.config.limits,
                         INVALID_IMAGE_TYPE)
    service = _service()
    with face_errors():
        result = _run(lambda: service.verify_video(video, photo, auto_rotate=auto_rotate,
                                                   check_quality=check_quality))
    body = _liveness_body(result.liveness, flags)
    if result.verification_score is not None:
        body["verification_score"] = float(result.verification_score)
    return respond(body)
