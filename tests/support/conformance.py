"""The conformance table: every endpoint's fields and every error code of the manuals (seeds 000-003, API.md), each
with the request that triggers it. tests/test_conformance.py sends every row to a real server over real HTTP.

A new field is one entry in ENDPOINTS (its missing / repeated / bad-boolean / default rows follow from it); a new
code is one row in CODE_ROWS. MANUAL lists what the vendors' manuals document per endpoint, so a code without a row
fails test_every_documented_code_has_a_row.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from edge_face import routes
from tests.support.media import Media

API_KEY = "conformance-key"
FRS_TOKEN = "conformance-token"
FRS = "/v2/conformance-project/face-compare"

Form = list[tuple[str, "str | bytes"]]  # (name, value) in order; bytes go as a multipart file part


class Kit:
    """What a row's request builder needs: the server's cipher and the media."""

    def __init__(self, api, media: Media) -> None:
        self.api = api
        self.media = media

    def enc(self, data: bytes) -> str:
        return self.api.encrypt(data)


def form(items: Form) -> dict:
    """requests' kwargs for a form: urlencoded when every value is text, else multipart (text parts as text)."""
    if all(isinstance(v, str) for _, v in items):
        return {"data": list(items)}
    return {"files": [(k, ("file", v) if isinstance(v, bytes) else (None, v)) for k, v in items]}


@dataclass(frozen=True)
class Endpoint:
    """One SenseID endpoint's contract: its fields (optional ones are booleans defaulting to false), a valid request
    and the exact keys of its answer when every optional field keeps its default."""

    section: str
    path: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    valid: Callable[[Kit], Form]
    default_keys: tuple[str, ...]


@dataclass(frozen=True)
class Row:
    """One request and its documented answer. `detail`: text the message must hold after the vendor's prefix (or in
    FRS's error_msg); `check`: what a 200 answer must hold."""

    id: str
    section: str
    path: str
    request: Callable[[Kit], dict]
    status: int
    code: int | str
    detail: str = ""
    check: Callable[[dict], bool] | None = None
    method: str = "POST"
    headers: dict = field(default_factory=lambda: {"X-API-Key": API_KEY})


IMAGES = ("first_encrypted_image", "second_encrypted_image")
RETURNS = ("return_image", "return_face_image", "return_status")


def _pair(k: Kit) -> Form:
    return [(IMAGES[0], k.enc(k.media.obama)), (IMAGES[1], k.enc(k.media.obama2))]


def _package(k: Kit, photo: bytes | None = None) -> Form:
    return [("liveness_file", k.media.package()), ("encrypted_image", k.enc(photo or k.media.obama2))]


def _video(k: Kit, video: bytes | None = None, photo: bytes | None = None) -> Form:
    return [("encrypted_video", k.enc(video or k.media.video)), ("encrypted_image", k.enc(photo or k.media.obama2))]


ENDPOINTS = (
    Endpoint("1.1", routes.VERIFY, IMAGES, ("auto_rotate", "check_quality"), _pair,
             ("code", "verification_score", "request_id")),
    Endpoint("1.2", routes.ALL_PAIRS, IMAGES, ("auto_rotate",), _pair, ("code", "scores", "face_rects", "request_id")),
    Endpoint("1.3", routes.PACKAGE_VERIFY, ("liveness_file", "encrypted_image"), ("auto_rotate", "check_quality"),
             _package, ("code", "verification_score", "request_id")),
    # 1.4's answer with the print-attack video: not passed, so no verification_score (as the manual says).
    Endpoint("1.4", routes.VIDEO_VERIFY, ("encrypted_video", "encrypted_image"),
             ("auto_rotate", "check_quality") + RETURNS, _video, ("code", "passed", "liveness_score", "request_id")),
    Endpoint("2.1", routes.QUALITY, ("encrypted_image",), (), lambda k: [("encrypted_image", k.enc(k.media.obama))],
             ("code", "faces", "request_id")),
    Endpoint("3.1", routes.LIVENESS, ("encrypted_video",), RETURNS,
             lambda k: [("encrypted_video", k.enc(k.media.video))], ("code", "passed", "liveness_score", "request_id")),
)
BY_SECTION = {e.section: e for e in ENDPOINTS}


def _keys(keys: tuple[str, ...]) -> Callable[[dict], bool]:
    return lambda body: tuple(body) == keys


def _without(items: Form, name: str) -> Form:
    return [(k, v) for k, v in items if k != name]


def _repeated(items: Form, name: str) -> Form:
    return items + [(k, v) for k, v in items if k == name]


def field_rows(e: Endpoint) -> list[Row]:
    """The rows every field of `e` implies: missing, repeated, bad boolean, defaults, unknown fields ignored."""
    rows = [Row(f"{e.section}-valid-defaults", e.section, e.path, lambda k: form(e.valid(k)), 200, 1000,
                check=_keys(e.default_keys))]
    for name in e.required:
        rows.append(Row(f"{e.section}-missing-{name}", e.section, e.path,
                        lambda k, n=name: form(_without(e.valid(k), n)), 400, 1200, f"missing field {name}"))
        rows.append(Row(f"{e.section}-repeated-{name}", e.section, e.path,
                        lambda k, n=name: form(_repeated(e.valid(k), n)), 400, 1200, f"field {name} is given more"))
    for name in e.optional:
        rows.append(Row(f"{e.section}-bad-boolean-{name}", e.section, e.path,
                        lambda k, n=name: form(e.valid(k) + [(n, "yes")]), 400, 1200, f"{name} must be true"))
        rows.append(Row(f"{e.section}-repeated-{name}", e.section, e.path,
                        lambda k, n=name: form(e.valid(k) + [(n, "false"), (n, "false")]), 400, 1200,
                        f"field {name} is given more"))
    if e.optional:  # every optional field sent as false answers exactly as when none is sent
        rows.append(Row(f"{e.section}-optional-false-is-default", e.section, e.path,
                        lambda k: form(e.valid(k) + [(n, "FALSE" if i % 2 else "0") for i, n in enumerate(e.optional)]),
                        200, 1000, check=_keys(e.default_keys)))
    # A field the endpoint does not know is ignored (API.md, revised): one from another endpoint, and a new one.
    foreign = next(n for n in ("check_quality", "return_status", "first_encrypted_image") if n not in e.optional)
    rows.append(Row(f"{e.section}-unknown-field-ignored", e.section, e.path,
                    lambda k: form(e.valid(k) + [(foreign, "not even a boolean"), ("vendor_field_2030", "x")]),
                    200, 1000, check=_keys(e.default_keys)))
    return rows


def _senseid(section: str, name: str, build: Callable[[Kit], Form], status: int, code: int, detail: str = "",
             check: Callable[[dict], bool] | None = None) -> Row:
    return Row(f"{section}-{name}", section, BY_SECTION[section].path, lambda k: form(build(k)), status, code, detail,
               check)


def _photo_rows(section: str, build: Callable[[Kit, bytes], Form], name: str, corrupt: int) -> list[Row]:
    """2003/2004/2005/2006/4000 for the photo field `name` of an endpoint (`build(kit, photo)` is the request)."""
    m = lambda k: k.media  # noqa: E731
    return [
        _senseid(section, "bad-base64", lambda k: _replace(build(k, m(k).obama), name, "not*base64!"), 400, 1200, name),
        _senseid(section, "wrong-key", lambda k: _replace(build(k, m(k).obama), name, _other_key(m(k).obama)),
                 400, 1200, name),
        _senseid(section, "image-too-small", lambda k: build(k, m(k).tiny), 400, 2003, name),
        _senseid(section, "image-over-5MB", lambda k: build(k, m(k).oversized), 400, 2004, name),
        _senseid(section, "not-an-image", lambda k: build(k, m(k).text), 400, 2005, name),
        _senseid(section, "truncated-image", lambda k: build(k, m(k).truncated), 400, corrupt, name),
        _senseid(section, "no-face", lambda k: build(k, m(k).grey), 400, 4000, "no face"),
    ]


def _replace(items: Form, name: str, value: str | bytes) -> Form:
    return [(k, value if k == name else v) for k, v in items]


def _other_key(data: bytes) -> str:
    from edge_face.crypto import VendorCipher

    return VendorCipher("k" * 32, "df25d188a061").encrypt(data)


def _occluded_rows(section: str, build: Callable[[Kit, bytes], Form]) -> list[Row]:
    """4004 only when check_quality=true: the same occluded photo is compared when it is left at its default."""
    return [
        _senseid(section, "occluded-check_quality", lambda k: build(k, k.media.occluded) + [("check_quality", "true")],
                 400, 4004, "mouth covered"),
        _senseid(section, "occluded-default-no-check", lambda k: build(k, k.media.occluded), 200, 1000),
    ]


def _liveness(status: str, passed: bool) -> Callable[[dict], bool]:
    return lambda b: b["passed"] is passed and b["liveness_status"] == status and "verification_score" not in b \
        and "base64_image" not in b and "base64_face_image" not in b


def _frs(name: str, build: Callable[[Kit], dict], status: int, code: str, detail: str = "",
         headers: dict | None = None, check=None, path: str = FRS, method: str = "POST") -> Row:
    return Row(f"FRS-{name}", "FRS", path, build, status, code, detail, check, method,
               {"X-Auth-Token": FRS_TOKEN} if headers is None else headers)


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode("ascii")


def _frs_pair(k: Kit, first: bytes | None = None, **extra) -> dict:
    return {"json": {"image1_base64": _b64(first or k.media.obama), "image2_base64": _b64(k.media.obama2), **extra}}


_pair_first = lambda k, photo: [(IMAGES[0], k.enc(photo)), (IMAGES[1], k.enc(k.media.obama2))]  # noqa: E731
_pair_second = lambda k, photo: [(IMAGES[0], k.enc(k.media.obama)), (IMAGES[1], k.enc(photo))]  # noqa: E731
_package_photo = lambda k, photo: _package(k, photo)  # noqa: E731
_video_photo = lambda k, photo: _video(k, photo=photo)  # noqa: E731
_quality = lambda k, photo: [("encrypted_image", k.enc(photo))]  # noqa: E731

CODE_ROWS: list[Row] = [
    *_photo_rows("1.1", _pair_first, IMAGES[0], 2005),
    *_occluded_rows("1.1", _pair_second),
    *_photo_rows("1.2", _pair_second, IMAGES[1], 2006),
    *_photo_rows("1.3", _package_photo, "encrypted_image", 2005),
    *_occluded_rows("1.3", _package_photo),
    _senseid("1.3", "liveness_file-as-text", lambda k: _replace(_package(k), "liveness_file", "AAAA"), 400, 1200,
             "liveness_file"),
    _senseid("1.3", "liveness_file-garbage", lambda k: _replace(_package(k), "liveness_file", b"\x00garbage" * 200),
             400, 2007),
    *_photo_rows("1.4", _video_photo, "encrypted_image", 2005),
    *_occluded_rows("1.4", _video_photo),
    _senseid("1.4", "video-bad-base64", lambda k: _replace(_video(k), "encrypted_video", "%%%"), 400, 1200,
             "encrypted_video"),
    _senseid("1.4", "video-undecodable", lambda k: _video(k, b"not a video " * 20), 400, 2008, "decoded"),
    _senseid("1.4", "video-short-is-short_time", lambda k: _video(k, k.media.short_video) + [("return_status", "1")],
             200, 1000, check=_liveness("short_time", False)),
    _senseid("1.4", "short-video-without-face-is-short_time",
             lambda k: _video(k, k.media.short_faceless_video) + [("return_status", "true")], 200, 1000,
             check=_liveness("short_time", False)),
    _senseid("1.4", "video-without-face", lambda k: _video(k, k.media.faceless_video), 400, 4007, "no face"),
    _senseid("1.4", "return_status-true", lambda k: _video(k) + [("return_status", "true"), ("return_image", "true")],
             200, 1000, check=lambda b: b["liveness_status"] in ("ok", "hack")
             and ("base64_image" in b) is b["passed"]),
    *_photo_rows("2.1", _quality, "encrypted_image", 2006),
    _senseid("2.1", "group-photo", lambda k: _quality(k, k.media.read("t1.jpg")), 200, 1000,
             check=lambda b: len(b["faces"]) == 6),
    _senseid("3.1", "video-bad-base64", lambda k: [("encrypted_video", "not*base64!")], 400, 1200, "encrypted_video"),
    _senseid("3.1", "video-short", lambda k: [("encrypted_video", k.enc(k.media.short_video))], 400, 2008,
             "less than 2 s"),
    _senseid("3.1", "short-video-without-face", lambda k: [("encrypted_video", k.enc(k.media.short_faceless_video))],
             400, 2008, "less than 2 s"),
    _senseid("3.1", "video-undecodable", lambda k: [("encrypted_video", k.enc(b"not a video " * 20))], 400, 2008,
             "decoded"),
    _senseid("3.1", "video-without-face", lambda k: [("encrypted_video", k.enc(k.media.faceless_video))], 400, 4007,
             "no face"),
    _senseid("3.1", "return_status-true", lambda k: [("encrypted_video", k.enc(k.media.video)),
                                                     ("return_status", "True")],
             200, 1000, check=lambda b: b["liveness_status"] in ("ok", "hack")),
    # The HTTP statuses of the manuals' tables (411 needs a raw socket: tests/test_api_errors.py).
    Row("http-404", "HTTP", "/identity/no_such_thing", lambda k: {}, 404, 1200, "not found"),
    Row("http-405", "HTTP", routes.VERIFY, lambda k: {}, 405, 1200, "method not allowed", method="GET"),
    Row("http-401", "HTTP", routes.VERIFY, lambda k: form(_pair(k)), 401, 1200, "API key",
        headers={"X-API-Key": "not-the-key"}),
    Row("http-413", "HTTP", routes.VERIFY,
        lambda k: {"data": b"x" * (k.api.config.limits.max_body_bytes + 1),
                   "headers": {"Content-Type": "application/x-www-form-urlencoded", "X-API-Key": API_KEY}},
        413, 2004, "request body is over"),
    Row("http-json-body", "HTTP", routes.VERIFY, lambda k: {"json": {}}, 400, 1200, "application/json"),
    # Huawei FRS face-compare (seed 002, API.md §2)
    _frs("valid", _frs_pair, 200, "", check=lambda b: list(b) == ["image1_face", "similarity", "image2_face"]
         and b["similarity"] > 0.93),
    _frs("wrong-token", _frs_pair, 403, "FRS.0002", headers={"X-Auth-Token": "not-the-token"}),
    _frs("no-token", _frs_pair, 400, "FRS.0010", "X-Auth-Token", headers={}),
    _frs("missing-image2", lambda k: {"json": {"image1_base64": _b64(k.media.obama)}}, 400, "FRS.0011", "image2"),
    _frs("unknown-field", lambda k: _frs_pair(k, image3_base64="x"), 400, "FRS.0012", "image3_base64"),
    _frs("url-refused", lambda k: {"json": {"image1_url": "/bucket/a.jpg", "image2_base64": _b64(k.media.obama2)}},
         400, "FRS.0012", "image1_url"),
    _frs("image-too-small", lambda k: _frs_pair(k, k.media.tiny), 400, "FRS.0013", "image1"),
    _frs("not-json", lambda k: {"data": b"{not json", "headers": {"X-Auth-Token": FRS_TOKEN,
                                                                  "Content-Type": "application/json"}},
         400, "FRS.0014", "JSON"),
    _frs("bad-base64", lambda k: {"json": {"image1_base64": "not*base64!", "image2_base64": _b64(k.media.obama)}},
         400, "FRS.0015", "image1_base64"),
    _frs("no-face", lambda k: _frs_pair(k, k.media.grey), 400, "FRS.0501", "image1"),
    _frs("unknown-path", lambda k: {"json": {}}, 404, "APIGW.0101", path="/v2/p/face-detect"),
]

ROWS: list[Row] = [row for e in ENDPOINTS for row in field_rows(e)] + CODE_ROWS

# What the manuals document per endpoint (seeds 000-003; FRS codes from API.md §2, seed 002 shows FRS.0501), plus
# the statuses of API.md's decisions: 2.1 keeps 2006 (API.md), 1.4 answers a short video with short_time.
MANUAL: dict[str, tuple[int | str, ...]] = {
    "1.1": (1000, 1200, 2003, 2004, 2005, 4000, 4004),
    "1.2": (1000, 1200, 2003, 2004, 2005, 2006, 4000),
    "1.3": (1000, 1200, 2003, 2004, 2005, 2007, 4000, 4004),
    "1.4": (1000, 1200, 2003, 2004, 2005, 4000, 4004, 4007),
    "2.1": (1000, 1200, 2003, 2004, 2005, 2006, 4000),
    "3.1": (1000, 1200, 2008, 4007),
    "FRS": ("", "FRS.0002", "FRS.0010", "FRS.0011", "FRS.0012", "FRS.0013", "FRS.0014", "FRS.0015", "FRS.0501"),
    "HTTP": (404, 405, 401, 413),  # by HTTP status: 400 is every row above, 411 and 500 in test_api_errors.py
}
