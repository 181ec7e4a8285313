"""SenseID §3.1 (silent liveness of a video) and §1.4 (the same, then its face against a photo), API.md.

Fields are checked and the video decrypted before anything is decoded; the video is decoded in memory only.
Optional keys appear exactly when the vendor's table says (`liveness_status` with return_status; the frame and
its face only when passed and asked for).
"""
from __future__ import annotations

from flask import Blueprint, Response, request

from edge_face import routes
from edge_face.api.auth import check_api_key
from edge_face.api.errors import INVALID_IMAGE_TYPE, SUCCESS
from edge_face.imaging.encode import jpeg_base64
from edge_face.api.payload import decode_field, decrypt_field, read_fields
from edge_face.api.state import respond, state
from edge_face.liveness.analyse import LivenessResult

bp = Blueprint("liveness", __name__)

VIDEO = "encrypted_video"
RETURNS = ("return_image", "return_face_image", "return_status")


@bp.before_request
def _authenticate() -> None:
    check_api_key(state().config.api_keys)


def _liveness_body(result: LivenessResult, flags: dict[str, bool]) -> dict:
    body: dict = {"code": SUCCESS, "passed": bool(result.passed), "liveness_score": float(result.score)}
    if flags["return_status"]:
        body["liveness_status"] = result.status
    if result.passed and flags["return_image"]:
        body["image_timestamp"] = round(float(result.image_timestamp), 3)
        body["base64_image"] = jpeg_base64(result.image, 90)
    if result.passed and flags["return_face_image"]:
        body["base64_face_image"] = jpeg_base64(result.face_image, 90)
    return body


@bp.post(routes.LIVENESS, provide_automatic_options=False)
def silent_detection() -> Response:
    """§3.1: is the person in the video live?"""
    st = state()
    fields = read_fields(request, (VIDEO,), RETURNS)
    flags = {name: fields.flag(name) for name in RETURNS}
    video = decrypt_field(fields, VIDEO, st.cipher)
    liveness = st.services.liveness()
    result = st.run(liveness.detect_video, video)
    return respond(_liveness_body(result, flags))


@bp.post(routes.VIDEO_VERIFY, provide_automatic_options=False)
def silent_image_verification() -> Response:
    """§1.4: liveness of the video, and its selected face against the photo (verification_score when passed)."""
    st = state()
    fields = read_fields(request, (VIDEO, "encrypted_image"), ("auto_rotate", "check_quality") + RETURNS)
    flags = {name: fields.flag(name) for name in RETURNS}
    auto_rotate, check_quality = fields.flag("auto_rotate"), fields.flag("check_quality")
    video = decrypt_field(fields, VIDEO, st.cipher)
    photo = decode_field(decrypt_field(fields, "encrypted_image", st.cipher), "encrypted_image", st.config.limits,
                         INVALID_IMAGE_TYPE)
    liveness = st.services.liveness()
    result = st.run(liveness.verify_video, video, photo.pixels, auto_rotate=auto_rotate, check_quality=check_quality)
    body = _liveness_body(result.liveness, flags)
    if result.verification_score is not None:
        body["verification_score"] = float(result.verification_score)
    return respond(body)
