"""Errors of §1.1 and §1.2 beyond the conformance table (more variants of a code, the HTTP layer: 411, 413,
chunked bodies, 404/405, 500), each caused by a real malformed request over real HTTP, and each followed by a
valid request to show the server is unharmed."""
from __future__ import annotations

import io
import json
import re
import socket
from dataclasses import replace
from functools import lru_cache

import numpy as np
import pytest
from PIL import Image

from edge_face.api.errors import ERRORS
from edge_face.crypto import VendorCipher

VERIFY = "/identity/image_verification/stateless"
ALL_PAIRS = "/identity/multiface_image_omni_verification/stateless"
FRS = "/v2/project-1/face-compare"
FIRST, SECOND = "first_encrypted_image", "second_encrypted_image"


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt)
    return buf.getvalue()


@lru_cache
def grey_png() -> bytes:
    return encode(Image.new("RGB", (320, 240), (128, 128, 128)))


@lru_cache
def noise_png() -> bytes:
    rng = np.random.default_rng(7)
    return encode(Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)))


@lru_cache
def corrupt_png() -> bytes:
    data = bytearray(noise_png())
    idat = data.index(b"IDAT")
    data[idat + 100] ^= 0xFF  # the chunk's CRC no longer matches
    return bytes(data)


def good(photos) -> bytes:
    return (photos / "obama.jpg").read_bytes()


def truncated_jpeg(photos) -> bytes:
    return good(photos)[:60_000]


# (id, path, fields(api, photos), HTTP status, code, text the message must contain): the cases beyond the
# conformance table's rows (tests/support/conformance.py), which cover each field and code of every endpoint once.
CASES = [
    ("empty-body", VERIFY, lambda a, p: {}, 400, 1200, FIRST),
    ("bad-boolean-1.2", ALL_PAIRS, lambda a, p: a.pair(good(p), good(p), auto_rotate=""), 400, 1200, "auto_rotate"),
    ("bad-boolean-check_quality", VERIFY, lambda a, p: a.pair(good(p), good(p), check_quality="2"),
     400, 1200, "check_quality"),
    ("bad-base64-second", ALL_PAIRS, lambda a, p: {FIRST: a.encrypt(good(p)), SECOND: "%%%"}, 400, 1200, SECOND),
    ("too-short-for-gcm", VERIFY, lambda a, p: {FIRST: "aGVsbG8=", SECOND: a.encrypt(good(p))}, 400, 1200, FIRST),
    ("wrong-iv", ALL_PAIRS, lambda a, p: {FIRST: a.encrypt(good(p)),
                                          SECOND: VendorCipher(a.config.aes_key, "i" * 12).encrypt(good(p))},
     400, 1200, SECOND),
    ("too-wide", ALL_PAIRS, lambda a, p: a.pair(good(p), encode(Image.new("RGB", (6000, 10)))), 400, 2003, SECOND),
    ("too-wide-1.1", VERIFY, lambda a, p: a.pair(encode(Image.new("L", (6000, 10))), good(p)), 400, 2003, FIRST),
    ("text-file-1.2", ALL_PAIRS, lambda a, p: a.pair(good(p), b"%PDF-1.4 not a photo"), 400, 2005, SECOND),
    ("truncated-jpeg-1.2", ALL_PAIRS, lambda a, p: a.pair(truncated_jpeg(p), good(p)), 400, 2006, FIRST),
    ("corrupt-png", VERIFY, lambda a, p: a.pair(good(p), corrupt_png()), 400, 2005, SECOND),
    ("corrupt-png-1.2", ALL_PAIRS, lambda a, p: a.pair(good(p), corrupt_png()), 400, 2006, SECOND),
    ("no-face-second", VERIFY, lambda a, p: a.pair(good(p), noise_png()), 400, 4000, "second"),
    # 1.1 decodes its photos on the inference lanes: a decoding error still comes before any face is looked for
    ("no-face-first-corrupt-second", VERIFY, lambda a, p: a.pair(grey_png(), corrupt_png()), 400, 2005, SECOND),
    ("corrupt-first-no-face-second", VERIFY, lambda a, p: a.pair(corrupt_png(), grey_png()), 400, 2005, FIRST),
    ("both-corrupt", VERIFY, lambda a, p: a.pair(corrupt_png(), truncated_jpeg(p)), 400, 2005, FIRST),
    ("no-face-1.2", ALL_PAIRS, lambda a, p: a.pair(good(p), grey_png()), 400, 4000, "second"),
]


@pytest.mark.parametrize("path, fields, status, code, text", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_documented_error(api, photos, path, fields, status, code, text):
    resp = api.post(path, fields(api, photos))
    body = resp.json()
    assert (resp.status_code, body["code"]) == (status, code), body
    assert body["message"].startswith(ERRORS[code].message + ": ") and text in body["message"]
    assert list(body) == ["code", "message", "request_id"]
    api.assert_alive(photos)


def test_same_errors_from_multipart(api, photos):
    files = {FIRST: ("a.jpg", api.encrypt(truncated_jpeg(photos)).encode()), SECOND: (None, api.encrypt(good(photos)))}
    assert api.post(ALL_PAIRS, files=files).json()["code"] == 2006
    files = {FIRST: (None, "garbage"), SECOND: ("b", api.encrypt(good(photos)).encode())}
    assert api.post(VERIFY, files=files).json()["code"] == 1200
    api.assert_alive(photos)


def test_body_over_the_limit_is_413_with_2004(api_server, api_config, photos):
    small = api_server(limits=replace(api_config.limits, max_body_bytes=1024 * 1024))
    big = small.pair((photos / "obama3.jpg").read_bytes(), (photos / "biden.jpg").read_bytes())
    assert sum(len(v) for v in big.values()) > 1024 * 1024
    resp = small.post(VERIFY, big)
    assert (resp.status_code, resp.json()["code"]) == (413, 2004), resp.text
    resp = small.post(ALL_PAIRS, files={k: ("f", v.encode()) for k, v in big.items()})
    assert (resp.status_code, resp.json()["code"]) == (413, 2004), resp.text
    small.assert_alive(photos)
    # Far over the limit, waitress refuses it from the headers alone, before buffering anything.
    status, body = raw_http(small.url, f"POST {VERIFY} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {8 * 1024 * 1024}\r\n"
                                       "Content-Type: application/x-www-form-urlencoded\r\n\r\n")
    assert (status, body["code"]) == (413, 2004), body  # in the vendor's JSON, not waitress's plain text
    status, body = raw_http(small.url, f"POST {FRS} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {8 * 1024 * 1024}\r\n"
                                       "Content-Type: application/json\r\n\r\n")
    assert (status, body["error_code"]) == (413, "FRS.0013"), body
    small.assert_alive(photos)


def raw_http(url: str, request: str) -> tuple[int, dict | None]:
    """Send bytes as they are (requests would fix them) and read until the server closes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request.encode("latin-1"))
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:  # a server that answered before reading all we sent resets the connection
            if not chunks:
                raise
    head, _, rest = b"".join(chunks).partition(b"\r\n\r\n")
    status = int(head.split()[1])
    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    try:
        return status, json.loads(rest[: int(length.group(1))] if length else rest)
    except ValueError:
        return status, None


@pytest.mark.parametrize("request_head, status", [
    ("POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\nConnection: close\r\n\r\n", 400),
    ("POST {path} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n", 501),
    # headers past waitress's 256 KiB, never ended: it has read everything when it answers (no reset)
    ("POST {path} HTTP/1.1\r\nHost: localhost\r\nX-Big: " + "a" * 270_000, 431),
])
def test_requests_waitress_cannot_parse_are_answered_in_the_vendors_json(api, photos, request_head, status):
    got, body = raw_http(api.url, request_head.format(path=VERIFY))
    assert got == status and body["code"] == 1200 and body["message"].startswith("invalid argument: "), (got, body)
    got, body = raw_http(api.url, request_head.format(path=FRS))
    assert got == status and body["error_code"].startswith("FRS."), (got, body)
    api.assert_alive(photos)


@pytest.mark.parametrize("version, connection", [("1.1", "close"), ("1.0", "close"), ("1.0", "")])
def test_post_without_content_length_is_411(api, photos, version, connection):
    header = f"Connection: {connection}\r\n" if connection else ""
    status, body = raw_http(api.url, f"POST {VERIFY} HTTP/{version}\r\nHost: localhost\r\n{header}"
                                     "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
                                     "first_encrypted_image=abc&second_encrypted_image=def")
    assert status == 411 and body["code"] == 1200 and body["request_id"]
    assert body["message"] == "invalid argument: Content-Length is required"
    api.assert_alive(photos)


def test_chunked_body_is_accepted(api, photos):
    fields = api.pair(good(photos), (photos / "obama2.jpg").read_bytes())
    resp = api.post(VERIFY, iter([f"{k}={v.replace('+', '%2B')}&".encode() for k, v in fields.items()]),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.request.headers.get("Transfer-Encoding") == "chunked"
    assert resp.json()["code"] == 1000, resp.json()


def test_unknown_path_is_404_json(api, photos):
    for method in ("get", "post"):
        resp = getattr(api, method)("/identity/no_such_thing")
        assert resp.status_code == 404
        body = resp.json()
        assert body["code"] == 1200 and body["message"] == "invalid argument: not found" and body["request_id"]
    api.assert_alive(photos)


def test_wrong_method_is_405_json(api, photos):
    for method, path in (("get", VERIFY), ("get", ALL_PAIRS), ("post", "/healthz")):
        resp = getattr(api, method)(path, **({"data": {"x": "1"}} if method == "post" else {}))
        assert resp.status_code == 405, (method, path)
        assert resp.json()["code"] == 1200 and resp.json()["message"] == "invalid argument: method not allowed"
    import requests

    resp = requests.options(api.url + VERIFY, timeout=10)
    assert resp.status_code == 405 and "POST" in resp.headers["Allow"]
    api.assert_alive(photos)


class Exploding:
    """The real service whose comparison fails unexpectedly, to reach the 500 path through real HTTP."""

    def __init__(self, real) -> None:
        self.real = real

    def __getattr__(self, name):  # everything else (models, liveness wiring) is the real service's
        return getattr(self.real, name)

    def verify_pair(self, first, second, *, auto_rotate=False):
        raise RuntimeError("model exploded")

    def verify_all_pairs(self, first, second, *, auto_rotate=False):
        return self.real.verify_all_pairs(first, second, auto_rotate=auto_rotate)


def test_unexpected_exception_is_500_without_details(api_server, face_service, photos, caplog):
    broken = api_server(service=Exploding(face_service))
    fields = broken.pair(good(photos), good(photos))
    with caplog.at_level("INFO", logger="edge_face.api"):
        resp = broken.post(VERIFY, fields)
    body = resp.json()
    assert resp.status_code == 500 and body == {"code": 5000, "request_id": body["request_id"],
                                                "message": "internal error: unexpected failure, logged under this "
                                                           "request_id"}
    assert "exploded" not in resp.text and "Traceback" not in resp.text
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors and body["request_id"] in errors[0].getMessage() and errors[0].exc_info
    assert all(fields[FIRST][:40] not in r.getMessage() for r in caplog.records)
    # The same server goes on serving the endpoints that work.
    ok = broken.post(ALL_PAIRS, fields).json()
    assert ok["code"] == 1000
