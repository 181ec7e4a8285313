"""Huawei FRS face-compare (API.md §2): `POST /v2/{project_id}/face-compare`, Huawei's request and answer shapes.

JSON (image*_base64, image*_url) or multipart (image*_file) -> photo bytes under FRS's limits -> the service's
main face of each photo -> `similarity` on FRS's scale (0.93 = SenseID 0.7, see pipeline/scales.py). Every
failure, including those of the shared HTTP layer (411, 413, 503, 500, unknown paths under /v2/), is answered in
Huawei's error shape with the codes of frs_errors.py.
"""
from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import replace
from pathlib import Path

from flask import Blueprint, Response, request

from edge_face import routes
from edge_face.api import aksk
from edge_face.api.auth import matches_any
from edge_face.api.frs_errors import (
    BAD_BASE64,
    BAD_PARAMETER,
    BAD_SIZE,
    BAD_TOKEN,
    MISSING_HEADER,
    MISSING_PARAMETER,
    NOT_JSON,
    WRONG_PROJECT,
    FrsError,
)
from edge_face.api.handlers import frs_respond
from edge_face.api.state import state
from edge_face.config import Config, Limits
from edge_face.imaging.decode import ImageError, decode_image, sniff_format
from edge_face.observability import stage
from edge_face.pipeline.scales import frs_similarity

bp = Blueprint("frs", __name__)

IMAGES = ("image1", "image2")
SOURCES = ("base64", "file", "url")
FIELDS = tuple(f"{image}_{source}" for image in IMAGES for source in SOURCES)

# Huawei's documented limits (seed 002): JPG/PNG/BMP, each image <= 8 MB (its Base64 text too) and both < 8 MB,
# resolution < 4096 x 2160 (decision: long side x short side, so portrait photos count the same), face > 80 x 80.
FORMATS = ("JPEG", "PNG", "BMP")
MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_LONG_SIDE, MAX_SHORT_SIDE = 4096, 2160  # exclusive
MIN_FACE_SIDE = 80  # exclusive


@bp.before_request
def _authenticate() -> None:
    """One key policy (API.md §3): with api_keys, frs_tokens or frs_credentials configured, every FRS request needs
    an X-Auth-Token that is one of frs_tokens or api_keys (compared in constant time), or an AK/SK signature
    (`Authorization: SDK-HMAC-SHA256 ...`, api/aksk.py) by one of frs_credentials; anything else is FRS.0002 (403),
    a missing token FRS.0010. With none of them configured (a loopback-only lab set-up), any token or signature
    passes, as the SenseID routes take any request without api_keys. With frs_project_id set, the path's project id
    (and X-Project-Id, which Huawei's SDK sends) must be it (FRS.0028, 403)."""
    config = state().config
    required = bool(config.frs_tokens or config.frs_credentials or config.api_keys)
    if aksk.is_signed(request.headers.get("Authorization")):
        if config.frs_credentials:
            _verify_signature(config)
        elif required:
            raise FrsError(BAD_TOKEN, "No AK/SK credentials are configured on this device.")
    else:
        token = request.headers.get("X-Auth-Token", "").strip()
        if not token:
            raise FrsError(MISSING_HEADER, "X-Auth-Token is required.")
        if required and not matches_any([token], config.frs_tokens + config.api_keys):
            raise FrsError(BAD_TOKEN)
    project = (request.view_args or {}).get("project_id")
    if config.frs_project_id and {project, request.headers.get("X-Project-Id", project)} != {config.frs_project_id}:
        raise FrsError(WRONG_PROJECT)


def _verify_signature(config: Config) -> None:
    try:  # the exact body bytes, cached: the form parser and _collect read them from the cache afterwards
        aksk.verify(request.method, request.script_root + request.path, request.query_string, request.headers,
                    request.get_data(cache=True), config.frs_credentials, time.time(), config.frs_signature_skew)
    except aksk.MissingHeader as exc:
        raise FrsError(MISSING_HEADER, str(exc)) from None
    except aksk.SignatureError as exc:
        raise FrsError(BAD_TOKEN, str(exc)) from None


# --- request body -> photo bytes ----------------------------------------------------------------------------


def _collect() -> dict[str, str | bytes]:
    """The body's fields: a JSON object, or multipart text fields and file parts; unknown or repeated is 0012."""
    mimetype = request.mimetype
    found: dict[str, list[str | bytes]] = {}
    if mimetype == "application/json":
        try:
            body = json.loads(request.get_data(cache=False))
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            raise FrsError(NOT_JSON) from None
        if not isinstance(body, dict):
            raise FrsError(NOT_JSON, "The body must be a JSON object.")
        for name, value in body.items():
            if not isinstance(value, str):
                raise FrsError(BAD_PARAMETER, f"{name[:64]} must be a string.")
            found[name] = [value]
    elif mimetype == "multipart/form-data":
        for name, value in request.form.items(multi=True):
            if name.endswith("_file"):
                raise FrsError(BAD_PARAMETER, f"{name[:64]} must be a file part (with a filename).")
            found.setdefault(name, []).append(value)
        for name, storage in request.files.items(multi=True):
            data = storage.read()
            found.setdefault(name, []).append(data if name.endswith("_file") else data.decode("utf-8", "replace"))
    elif not mimetype:
        raise FrsError(MISSING_HEADER, "Content-Type is required (application/json or multipart/form-data).")
    else:
        raise FrsError(NOT_JSON, f"Content-Type {mimetype[:64]} is not application/json or multipart/form-data.")
    for name, values in found.items():
        if name not in FIELDS:
            raise FrsError(BAD_PARAMETER, f"Unknown parameter {name[:64]}.")
        if len(values) > 1:
            raise FrsError(BAD_PARAMETER, f"{name} is given more than once.")
    return {name: values[0] for name, values in found.items()}


def _from_base64(name: str, text: str) -> bytes:
    if len(text) > MAX_IMAGE_BYTES:
        raise FrsError(BAD_SIZE, f"{name} is over {MAX_IMAGE_BYTES} bytes.")
    text = text.strip()
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):  # ValueError: non-ASCII characters
        raise FrsError(BAD_BASE64, f"{name} is not valid Base64.") from None


def _from_directory(name: str, url: str, directory: str) -> bytes:
    """image*_url names a file inside frs_image_dir ("/bucket/object" or "object"); anything else is refused."""
    if not directory:
        raise FrsError(BAD_PARAMETER, f"{name}: URLs are not fetched on this device (no frs_image_dir configured).")
    base = Path(directory).resolve()
    relative = url.lstrip("/")
    parts = Path(relative).parts
    if ("://" in url or "\\" in url or "\x00" in url or ":" in relative or not parts
            or any(p in ("..", ".") for p in parts)):
        raise FrsError(BAD_PARAMETER, f"{name} must be a path inside the image directory.")
    target = (base / relative).resolve()
    if not target.is_relative_to(base) or not target.is_file():  # resolve(): symlinks cannot lead outside
        raise FrsError(BAD_PARAMETER, f"{name}: no such image.")
    if target.stat().st_size > MAX_IMAGE_BYTES:
        raise FrsError(BAD_SIZE, f"{name} is over {MAX_IMAGE_BYTES} bytes.")
    try:
        return target.read_bytes()
    except OSError:
        raise FrsError(BAD_PARAMETER, f"{name}: the image cannot be read.") from None


def _photo_bytes(fields: dict[str, str | bytes], image: str, config: Config) -> bytes:
    given = [source for source in SOURCES if f"{image}_{source}" in fields]
    if not given:
        raise FrsError(MISSING_PARAMETER, f"One of {image}_base64, {image}_file or {image}_url is required.")
    if len(given) > 1:
        raise FrsError(BAD_PARAMETER, f"Give only one of {', '.join(f'{image}_{s}' for s in given)}.")
    name = f"{image}_{given[0]}"
    value = fields[name]
    if not value:
        raise FrsError(MISSING_PARAMETER, f"{name} is empty.")
    if given[0] == "file":
        data = value if isinstance(value, bytes) else value.encode()
        if len(data) > MAX_IMAGE_BYTES:
            raise FrsError(BAD_SIZE, f"{name} is over {MAX_IMAGE_BYTES} bytes.")
        return data
    text = value if isinstance(value, str) else value.decode("utf-8", "replace")
    data = _from_base64(name, text) if given[0] == "base64" else _from_directory(name, text, config.frs_image_dir)
    if not data:
        raise FrsError(MISSING_PARAMETER, f"{name} is empty.")
    return data


def _frs_limits(limits: Limits) -> Limits:
    return replace(limits, max_image_bytes=MAX_IMAGE_BYTES, max_image_side=MAX_LONG_SIDE - 1,
                   max_image_pixels=(MAX_LONG_SIDE - 1) * (MAX_SHORT_SIDE - 1))


def _decode(data: bytes, image: str, limits: Limits):
    if sniff_format(data) not in FORMATS:
        raise FrsError(BAD_PARAMETER, f"{image} is not a JPG, PNG or BMP image.")
    try:
        with stage("decode"):
            bgr = decode_image(data, limits)
    except ImageError as exc:
        code = BAD_SIZE if exc.kind in ("length", "size") else BAD_PARAMETER
        raise FrsError(code, f"{image}: {exc}.") from None
    height, width = bgr.shape[:2]
    if min(width, height) >= MAX_SHORT_SIDE:
        raise FrsError(BAD_SIZE, f"{image} is {width}x{height}, the limit is under {MAX_LONG_SIDE}x{MAX_SHORT_SIDE}.")
    return bgr


def _face(rect: tuple[int, int, int, int], image: str) -> dict:
    left, top, right, bottom = (int(v) for v in rect)
    width, height = right - left, bottom - top
    if width <= MIN_FACE_SIDE or height <= MIN_FACE_SIDE:
        raise FrsError(BAD_SIZE, f"The face in {image} is {width}x{height} px, it must be over "
                                 f"{MIN_FACE_SIDE}x{MIN_FACE_SIDE}.")
    return {"bounding_box": {"width": width, "top_left_y": top, "top_left_x": left, "height": height}}


@bp.post(routes.FRS_COMPARE_RULE, provide_automatic_options=False)
def face_compare(project_id: str) -> Response:
    """The main face of each image (API.md: the largest, weighted toward the centre), compared."""
    st = state()
    fields = _collect()
    data = [_photo_bytes(fields, image, st.config) for image in IMAGES]
    if sum(len(d) for d in data) >= MAX_IMAGE_BYTES:
        raise FrsError(BAD_SIZE, f"The two images together must be under {MAX_IMAGE_BYTES} bytes.")
    faces = st.services.faces()
    limits = _frs_limits(st.config.limits)
    first, second = (_decode(d, image, limits) for d, image in zip(data, IMAGES))
    result = st.run(faces.verify_pair, first, second)
    image1_face = _face(result.first_rect, "image1")
    image2_face = _face(result.second_rect, "image2")
    return frs_respond({"image1_face": image1_face, "similarity": round(frs_similarity(result.score), 6),
                     "image2_face": image2_face})
