"""SenseID §1.1, §1.2 and §2.1 (API.md): fields -> images -> service -> the vendor's JSON, nothing more.

The response keeps the vendor's exact keys so strict clients written for the private cloud work unchanged.
"""
from __future__ import annotations

from typing import Callable

from flask import Blueprint, Response, request

from edge_face import routes
from edge_face.api.auth import check_api_key
from edge_face.api.errors import CORRUPTED_IMAGE, INVALID_IMAGE_TYPE, SUCCESS
from edge_face.api.payload import image_loaders, load_images, read_fields
from edge_face.api.state import respond, state
from edge_face.imaging.decode import Photo
from edge_face.runtime import fork_join
from edge_face.services import FaceService
from edge_face.services.faces import PairResult

bp = Blueprint("senseid", __name__)

IMAGES = ("first_encrypted_image", "second_encrypted_image")


@bp.before_request
def _authenticate() -> None:
    check_api_key(state().config.api_keys)


@bp.post(routes.VERIFY, provide_automatic_options=False)
def image_verification() -> Response:
    """§1.1: the main face of each photo, one calibrated score."""
    st = state()
    fields = read_fields(request, IMAGES, ("auto_rotate", "check_quality"))
    auto_rotate = fields.flag("auto_rotate")
    check_quality = fields.flag("check_quality")
    faces = st.services.faces()
    loaders = image_loaders(fields, IMAGES, st.cipher, st.config.limits, corrupt_code=INVALID_IMAGE_TYPE)
    result = st.run(_decode_and_verify, faces, loaders, auto_rotate=auto_rotate, check_quality=check_quality)
    return respond({"code": SUCCESS, "verification_score": float(result.score)})


def _decode_and_verify(faces: FaceService, loaders: list[Callable[[], Photo]], **options: bool) -> PairResult:
    """On a lane: both photos decoded at once (two lanes when one is free: a 640x480 JPEG is 1 ms, so one client
    waits 1 ms less), then verified. Every decoding error is raised before any face is looked for, as when the
    request thread decoded them."""
    first, second = fork_join(*loaders)
    return faces.verify_pair(first.pixels, second.pixels, **options)


@bp.post(routes.ALL_PAIRS, provide_automatic_options=False)
def multiface_verification() -> Response:
    """§1.2: every face against every face; rows = first photo, columns = second, rects in the same order."""
    st = state()
    fields = read_fields(request, IMAGES, ("auto_rotate",))
    auto_rotate = fields.flag("auto_rotate")
    faces = st.services.faces()
    first, second = load_images(fields, IMAGES, st.cipher, st.config.limits, corrupt_code=CORRUPTED_IMAGE)
    result = st.run(faces.verify_all_pairs, first.pixels, second.pixels, auto_rotate=auto_rotate)
    return respond({
        "code": SUCCESS,
        "scores": [[float(s) for s in row] for row in result.scores],
        "face_rects": {
            "first_image_face_rects": [list(first.original(rect)) for rect in result.first_rects],
            "second_image_face_rects": [list(second.original(rect)) for rect in result.second_rects],
        },
    })


def _r(v: float) -> float:
    return round(float(v), 4)


@bp.post(routes.QUALITY, provide_automatic_options=False)
def face_quality() -> Response:
    """§2.1: quality of every face, in reading order (a photo without a face is 4000, raised by the service)."""
    st = state()
    fields = read_fields(request, ("encrypted_image",))
    service = st.services.faces()
    (image,) = load_images(fields, ("encrypted_image",), st.cipher, st.config.limits, corrupt_code=CORRUPTED_IMAGE)
    faces = []
    for q in st.run(service.quality, image.pixels):
        left, top, right, bottom = image.original(q.rect)
        faces.append({
            "rect": {"left": left, "top": top, "right": right, "bottom": bottom},
            "pose": {"yaw": _r(q.pose.yaw), "pitch": _r(q.pose.pitch), "roll": _r(q.pose.roll)},
            "occlusion": {k: _r(v) for k, v in q.occlusion.items()},
            "distance2center": _r(q.distance2center),
            "size": _r(q.size),
            "brightness": _r(q.brightness),
            "sharpness": _r(q.sharpness),
            "mouth_open": _r(q.mouth_open),
        })
    return respond({"code": SUCCESS, "faces": faces})
