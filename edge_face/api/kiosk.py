"""The kiosk page for the device's own screen: camera preview with the face box, a liveness check and a verification
against a reference photo (edge_face/api/static/kiosk.*).

The page runs in the kiosk's browser on this device, so its endpoints answer loopback clients only and need no API
key or AES key (a key given to a web page would be a key published): the liveness package stays sealed by the device
key and only travels from one call to the next; the reference photo arrives as a file and is never stored.
Other pages in that browser are kept out: the Host must be ours (app-wide, api/hosts.py), POSTs need the page's own
Origin, no page may frame this one; and a kiosk package opens only in /kiosk/verify, never in SenseID 1.3.
"""
from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from importlib import resources

from flask import Blueprint, Response, request

from edge_face import routes
from edge_face.api.camera import run_session, session_body
from edge_face.api.errors import CORRUPTED_LIVENESS_DATA, INVALID_ARGUMENT, INVALID_IMAGE_TYPE, SUCCESS, ApiError
from edge_face.api.hosts import check_same_origin
from edge_face.api.payload import decode_field
from edge_face.api.state import respond, state
from edge_face.imaging.encode import jpeg_base64
from edge_face.liveness import challenge

bp = Blueprint("kiosk", __name__)

LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")
# Score threshold of the page's decision: 0.7 = false-accept rate 1/10,000 (README "Scores mean false-accept rates").
SAME_PERSON = 0.7
_STATIC = {"kiosk.js": "text/javascript", "kiosk.css": "text/css"}
CHALLENGE_SECONDS = 60.0  # a drawn direction is good for one session started within this long
_pending: dict[str, tuple[str, float]] = {}  # challenge id -> (direction, deadline): drawn, not used yet
_pending_lock = threading.Lock()


@bp.before_request
def _local_only() -> None:
    if request.remote_addr not in LOOPBACK:
        raise ApiError(INVALID_ARGUMENT, "the kiosk page is served to this device's own screen only", 403)
    if request.method == "POST":
        check_same_origin(request)


def _static(name: str) -> bytes:
    return resources.files("edge_face.api").joinpath("static", name).read_bytes()


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get(routes.KIOSK)
def page() -> Response:
    response = Response(_static("kiosk.html"), mimetype="text/html")
    response.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self' data:; "
                                                   "style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
                                                   "base-uri 'none'; form-action 'self'")
    return _no_store(response)


@bp.get("/kiosk/<name>")
def asset(name: str) -> Response:
    if name not in _STATIC:
        raise ApiError(INVALID_ARGUMENT, "not found", 404)
    return _no_store(Response(_static(name), mimetype=_STATIC[name]))


@bp.get("/kiosk/preview")
def preview() -> Response:
    """The newest camera frame (JPEG, as a data URL) with the main face's box in the same pixel frame."""
    st = state()
    seq, _, frame = st.services.camera.require_owner().next_frame(0)
    faces = st.run(st.services.faces().locate, frame)
    height, width = frame.shape[:2]
    return _no_store(respond({
        "code": SUCCESS, "seq": int(seq), "width": int(width), "height": int(height),
        "image": "data:image/jpeg;base64," + jpeg_base64(frame, 75),
        "faces": [{"rect": [int(v) for v in f.rect], "score": round(float(f.score), 3)} for f in faces],
    }))


PROMPTS = {"left": "Turn your head a little to your left", "right": "Turn your head a little to your right"}


@bp.post("/kiosk/challenge")
def draw_challenge() -> Response:
    """What the next session asks of the person (camera.challenge): "none", or "turn" with a direction drawn here,
    at random, and an id the page hands back to /kiosk/liveness (single use; the server keeps the direction)."""
    if state().config.camera.challenge != "turn":
        return _no_store(respond({"code": SUCCESS, "challenge": "none"}))
    direction, key = challenge.choose(), secrets.token_urlsafe(16)
    now = time.monotonic()
    with _pending_lock:
        for k in [k for k, (_, deadline) in _pending.items() if deadline < now]:
            del _pending[k]
        if len(_pending) > 64:  # a loopback page needs one; a flood only evicts its own
            _pending.clear()
        _pending[key] = (direction, now + CHALLENGE_SECONDS)
    return _no_store(respond({"code": SUCCESS, "challenge": "turn", "direction": direction,
                              "challenge_id": key, "prompt": PROMPTS[direction]}))


def _take_challenge(key: str) -> str:
    """The direction drawn for `key`, forgotten as it is taken; 1200 when there is none (unknown, used, expired)."""
    with _pending_lock:
        direction, deadline = _pending.pop(key, ("", 0.0))
    if not direction or deadline < time.monotonic():
        raise ApiError(INVALID_ARGUMENT, "challenge_id is missing, used or expired: draw one from /kiosk/challenge")
    return direction


@bp.post("/kiosk/liveness")
def liveness() -> Response:
    """The camera liveness session of /camera/liveness_session, for the page (no API key: loopback only). With
    camera.challenge = "turn" it needs the `challenge_id` of /kiosk/challenge and checks the drawn turn."""
    turn = None
    if state().config.camera.challenge == "turn":
        turn = _take_challenge(request.form.get("challenge_id", ""))
    body = session_body(run_session("kiosk", turn=turn))
    if turn is not None:
        body["challenge"] = {"kind": "turn", "direction": turn}
    return _no_store(respond(body))


@bp.post("/kiosk/verify")
def verify() -> Response:
    """The live face of a sealed package (from /kiosk/liveness) against a reference photo file: SenseID 1.3's
    comparison without the AES layer, which a local page cannot hold a key for."""
    st = state()
    text = request.form.get("package", "")
    photo = request.files.get("reference")
    if not text or photo is None:
        raise ApiError(INVALID_ARGUMENT, "package and reference are required")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(CORRUPTED_LIVENESS_DATA, "corrupted liveness data error: package is not Base64") from None
    camera = st.services.camera
    package = camera.open_package(data, audience="kiosk")
    image = decode_field(photo.read(st.config.limits.max_image_bytes + 1), "reference", st.config.limits,
                         INVALID_IMAGE_TYPE)
    score = st.run(camera.verify_package, st.services.faces(), package, image.pixels)
    return _no_store(respond({"code": SUCCESS, "verification_score": float(score),
                              "same_person": bool(score >= SAME_PERSON), "threshold": SAME_PERSON}))
