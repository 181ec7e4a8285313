"""Huawei FRS face-compare over real HTTP: success in both body forms, every documented error code caused by a
real malformed request (each followed by a valid request), the per-request timeout, and the local image dir."""
from __future__ import annotations

import base64
import io
import os
import time
from functools import lru_cache

import cv2
import pytest
from PIL import Image

from edge_face.pipeline.scales import frs_similarity

PATH = "/v2/edge-project/face-compare"
TOKEN = {"X-Auth-Token": "any-token"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def png(width: int, height: int, colour=(128, 128, 128)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


@lru_cache
def small_face(photos) -> bytes:
    """obama.jpg at a quarter: the face is found but is 61 px wide, under FRS's 80 x 80."""
    image = cv2.imread(str(photos / "obama.jpg"))
    ok, data = cv2.imencode(".jpg", cv2.resize(image, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA))
    return data.tobytes()


def jpeg_noise(size: int) -> bytes:
    return b"\xff\xd8\xff\xe0" + os.urandom(size - 4)


def read(photos, name: str) -> bytes:
    return (photos / name).read_bytes()


def compare(api, body=None, headers=TOKEN, **kwargs):
    resp = api.post(PATH, headers=headers, json=body, **kwargs) if body is not None else \
        api.post(PATH, headers=headers, **kwargs)
    return resp.status_code, resp.json()


def assert_frs_alive(api, photos) -> None:
    status, body = compare(api, {"image1_base64": b64(read(photos, "obama.jpg")),
                                 "image2_base64": b64(read(photos, "obama2.jpg"))})
    assert status == 200 and body["similarity"] > 0.93, body
    api.assert_alive(photos)  # and the SenseID face too


def test_same_person_above_093_other_person_well_below(api, photos, face_service):
    status, same = compare(api, {"image1_base64": b64(read(photos, "obama.jpg")),
                                 "image2_base64": b64(read(photos, "obama2.jpg"))})
    assert status == 200 and list(same) == ["image1_face", "similarity", "image2_face"]
    assert same["similarity"] > 0.93
    status, other = compare(api, {"image1_base64": b64(read(photos, "obama.jpg")),
                                  "image2_base64": b64(read(photos, "biden.jpg"))})
    assert status == 200 and other["similarity"] < 0.7, other
    # The boxes are the service's main faces, in Huawei's layout.
    import numpy as np

    direct = face_service.verify_pair(cv2.imdecode(np.frombuffer(read(photos, "obama.jpg"), np.uint8), 1),
                                      cv2.imdecode(np.frombuffer(read(photos, "biden.jpg"), np.uint8), 1))
    left, top, right, bottom = direct.second_rect
    assert other["image2_face"] == {"bounding_box": {"width": right - left, "top_left_y": top, "top_left_x": left,
                                                     "height": bottom - top}}
    assert other["similarity"] == pytest.approx(frs_similarity(direct.score), abs=1e-5)


def test_multipart_files(api, photos):
    files = {"image1_file": ("a.jpg", read(photos, "obama.jpg")), "image2_file": ("b.png", read(photos, "32bit.png"))}
    status, body = compare(api, files=files)
    assert status == 200 and body["similarity"] > 0.93, body


def test_scale_puts_093_at_senseid_07():
    assert frs_similarity(0.7) == pytest.approx(0.93)
    assert frs_similarity(0.0) == 0.0 and frs_similarity(1.0) == 1.0
    values = [frs_similarity(t / 100) for t in range(101)]
    assert all(a < b for a, b in zip(values, values[1:]))


def good(p):
    return b64(read(p, "obama.jpg"))


# (id, request kwargs(photos), HTTP status, FRS code, text in error_msg)
CASES = [
    ("no-token", lambda p: {"headers": {}, "json": {"image1_base64": good(p), "image2_base64": good(p)}},
     400, "FRS.0010", "X-Auth-Token"),
    ("empty-token", lambda p: {"headers": {"X-Auth-Token": ""}, "json": {"image1_base64": good(p)}},
     400, "FRS.0010", "X-Auth-Token"),
    ("no-content-type", lambda p: {"data": b'{"image1_base64": "x"}'}, 400, "FRS.0010", "Content-Type"),
    ("missing-image2", lambda p: {"json": {"image1_base64": good(p)}}, 400, "FRS.0011", "image2"),
    ("empty-json", lambda p: {"json": {}}, 400, "FRS.0011", "image1"),
    ("empty-base64", lambda p: {"json": {"image1_base64": "", "image2_base64": good(p)}}, 400, "FRS.0011",
     "image1_base64 is empty"),
    ("zero-byte-file", lambda p: {"files": {"image1_file": ("a.jpg", b""), "image2_file": ("b.jpg", b"x")}},
     400, "FRS.0011", "image1_file is empty"),
    ("url-without-dir", lambda p: {"json": {"image1_url": "/bucket/obama.jpg", "image2_base64": good(p)}},
     400, "FRS.0012", "not fetched"),
    ("two-sources", lambda p: {"json": {"image1_base64": good(p), "image1_url": "/a/b", "image2_base64": good(p)}},
     400, "FRS.0012", "only one"),
    ("unknown-field", lambda p: {"json": {"image1_base64": good(p), "image2_base64": good(p), "image3_base64": "x"}},
     400, "FRS.0012", "image3_base64"),
    ("not-a-string", lambda p: {"json": {"image1_base64": 12, "image2_base64": good(p)}}, 400, "FRS.0012",
     "image1_base64"),
    ("file-as-text-field", lambda p: {"files": {"image1_file": (None, "abc"), "image2_file": ("b", b"x")}},
     400, "FRS.0012", "file part"),
    ("text-not-image", lambda p: {"json": {"image1_base64": b64(b"hello world " * 20), "image2_base64": good(p)}},
     400, "FRS.0012", "JPG, PNG or BMP"),
    ("gif-not-frs", lambda p: {"json": {"image1_base64": good(p), "image2_base64": b64(b"GIF89a" + bytes(64))}},
     400, "FRS.0012", "image2"),
    ("truncated-jpeg", lambda p: {"json": {"image1_base64": b64(read(p, "obama.jpg")[:60_000]),
                                           "image2_base64": good(p)}}, 400, "FRS.0012", "truncated"),
    ("one-over-8MB", lambda p: {"files": {"image1_file": ("a.jpg", jpeg_noise(8 * 1024 * 1024 + 1)),
                                          "image2_file": ("b.jpg", read(p, "obama.jpg"))}}, 400, "FRS.0013", "image1"),
    ("base64-over-8MB", lambda p: {"json": {"image1_base64": "A" * (8 * 1024 * 1024 + 4), "image2_base64": good(p)}},
     400, "FRS.0013", "image1_base64"),
    ("both-8MB", lambda p: {"files": {"image1_file": ("a.jpg", jpeg_noise(4 * 1024 * 1024)),
                                      "image2_file": ("b.jpg", jpeg_noise(4 * 1024 * 1024))}}, 400, "FRS.0013",
     "together"),
    ("too-wide", lambda p: {"json": {"image1_base64": b64(png(4096, 100)), "image2_base64": good(p)}},
     400, "FRS.0013", "image1"),
    ("short-side-2160", lambda p: {"json": {"image1_base64": good(p), "image2_base64": b64(png(2200, 2160))}},
     400, "FRS.0013", "image2"),
    ("too-small", lambda p: {"json": {"image1_base64": b64(png(4, 4)), "image2_base64": good(p)}},
     400, "FRS.0013", "image1"),
    ("face-under-80px", lambda p: {"json": {"image1_base64": good(p), "image2_base64": b64(small_face(p))}},
     400, "FRS.0013", "face in image2"),
    ("not-json", lambda p: {"data": b"{not json", "headers": {**TOKEN, "Content-Type": "application/json"}},
     400, "FRS.0014", "JSON"),
    ("json-array", lambda p: {"json": [good(p), good(p)]}, 400, "FRS.0014", "object"),
    ("bad-utf8-json", lambda p: {"data": b'{"image1_base64": "\xff\xfe"}',
                                 "headers": {**TOKEN, "Content-Type": "application/json"}}, 400, "FRS.0014", "JSON"),
    ("form-urlencoded", lambda p: {"data": {"image1_base64": good(p)}}, 400, "FRS.0014", "x-www-form-urlencoded"),
    ("bad-base64", lambda p: {"json": {"image1_base64": "not*base64!", "image2_base64": good(p)}},
     400, "FRS.0015", "image1_base64"),
    ("base64-with-crlf", lambda p: {"json": {"image1_base64": good(p)[:100] + "\r\n" + good(p)[100:],
                                             "image2_base64": good(p)}}, 400, "FRS.0015", "image1_base64"),
    ("no-face", lambda p: {"json": {"image1_base64": b64(png(320, 240)), "image2_base64": good(p)}},
     400, "FRS.0501", "image1"),
    ("no-face-second", lambda p: {"json": {"image1_base64": good(p), "image2_base64": b64(png(320, 240, (9, 9, 9)))}},
     400, "FRS.0501", "image2"),
]


@pytest.mark.parametrize("request_kwargs, status, code, text", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_documented_error(api, photos, request_kwargs, status, code, text):
    kwargs = request_kwargs(photos)
    kwargs.setdefault("headers", TOKEN)
    resp = api.post(PATH, **kwargs)
    body = resp.json()
    assert (resp.status_code, body["error_code"]) == (status, code), body
    assert text in body["error_msg"]
    assert list(body) == ["error_code", "error_msg"]
    assert resp.headers["X-Request-Id"]
    assert_frs_alive(api, photos)


def test_wrong_token_is_403(api_server, photos):
    guarded = api_server(frs_tokens=("token-a", "token-b"))
    pair = {"image1_base64": good(photos), "image2_base64": b64(read(photos, "obama2.jpg"))}
    status, body = compare(guarded, pair, headers={"X-Auth-Token": "token-c"})
    assert (status, body["error_code"]) == (403, "FRS.0002")
    status, body = compare(guarded, pair, headers={"X-Auth-Token": "token-b"})
    assert status == 200 and body["similarity"] > 0.93


def test_body_over_limit_is_413_frs_0013(api_server, api_config, photos):
    from dataclasses import replace

    small = api_server(limits=replace(api_config.limits, max_body_bytes=1024 * 1024))
    status, body = compare(small, {"image1_base64": "A" * (1024 * 1024 + 512 * 1024), "image2_base64": good(photos)})
    assert (status, body["error_code"]) == (413, "FRS.0013")
    assert_frs_alive(small, photos)


def test_unknown_path_and_method_under_v2(api, photos):
    resp = api.post("/v2/p/face-detect", headers=TOKEN, json={})
    assert (resp.status_code, resp.json()["error_code"]) == (404, "APIGW.0101")
    resp = api.get(PATH)
    assert (resp.status_code, resp.json()["error_code"]) == (405, "APIGW.0101")
    assert "POST" in resp.headers["Allow"]


def test_missing_content_length_is_411_frs(api, photos):
    from tests.test_api_errors import raw_http

    status, body = raw_http(api.url, f"POST {PATH} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Auth-Token: t\r\n"
                                     "Content-Type: application/json\r\n\r\n{}")
    assert status == 411 and body["error_code"] == "FRS.0010"
    assert_frs_alive(api, photos)


class Slow:
    """The real service, but its comparisons take `delay` seconds first: to reach the per-request timeout."""

    def __init__(self, real, delay: float) -> None:
        self.real, self.delay = real, delay

    def __getattr__(self, name):  # everything else (models, liveness wiring) is the real service's
        return getattr(self.real, name)

    def verify_pair(self, first, second, **options):
        time.sleep(self.delay)
        return self.real.verify_pair(first, second, **options)

    def verify_all_pairs(self, first, second, **options):
        return self.real.verify_all_pairs(first, second, **options)


class Exploding(Slow):
    def verify_pair(self, first, second, **options):
        raise RuntimeError("model exploded")


def test_request_timeout_is_503_in_both_faces(api_server, face_service, photos):
    # lanes=4: two lanes stay free for the quick calls while the two slow ones sleep on theirs (with lanes = cores,
    # the default, an overrunning call holds a core's lane until it ends: see tests/test_scheduler.py).
    slow = api_server(service=Slow(face_service, 6.0), request_timeout=2.0, lanes=4)
    started = time.perf_counter()
    status, body = compare(slow, {"image1_base64": good(photos), "image2_base64": good(photos)})
    assert (status, body["error_code"]) == (503, "FRS.0500") and "timed out" in body["error_msg"]
    assert time.perf_counter() - started < 5.0
    resp = slow.post("/identity/image_verification/stateless", slow.pair(read(photos, "obama.jpg"),
                                                                         read(photos, "obama2.jpg")))
    assert (resp.status_code, resp.json()["code"]) == (503, 5000) and "timed out" in resp.json()["message"]
    # Endpoints whose calls are quick still answer while the slow ones run on.
    fields = slow.pair(read(photos, "obama.jpg"), read(photos, "obama2.jpg"))
    assert slow.post("/identity/multiface_image_omni_verification/stateless", fields).json()["code"] == 1000


def test_unexpected_exception_is_500_frs_0500(api_server, face_service, photos):
    broken = api_server(service=Exploding(face_service, 0))
    status, body = compare(broken, {"image1_base64": good(photos), "image2_base64": good(photos)})
    assert (status, body) == (500, {"error_code": "FRS.0500", "error_msg": "Internal error."})


def test_image_url_inside_the_configured_directory(api_server, photos, tmp_path):
    bucket = tmp_path / "images" / "bucket"
    bucket.mkdir(parents=True)
    (bucket / "obama.jpg").write_bytes(read(photos, "obama.jpg"))
    (tmp_path / "secret.jpg").write_bytes(read(photos, "obama2.jpg"))
    (bucket / "escape.jpg").symlink_to(tmp_path / "secret.jpg")
    local = api_server(frs_image_dir=str(tmp_path / "images"))
    status, body = compare(local, {"image1_url": "/bucket/obama.jpg", "image2_base64": b64(read(photos, "obama2.jpg"))})
    assert status == 200 and body["similarity"] > 0.93, body
    for url in ("/bucket/../../secret.jpg", "../secret.jpg", "/bucket/escape.jpg", str(tmp_path / "secret.jpg"),
                "file:///etc/passwd", "http://127.0.0.1/x.jpg", "/bucket/missing.jpg", "/bucket", "", "/"):
        status, body = compare(local, {"image1_url": url, "image2_base64": good(photos)})
        assert status == 400 and body["error_code"] in ("FRS.0012", "FRS.0011"), (url, body)
    assert_frs_alive(local, photos)
