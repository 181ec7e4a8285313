"""Hand-written hostile requests with the documented answer of each (API.md): the half of the fuzz run that a
schema-driven fuzzer does not reach (broken files, bombs, wrong keys, wrong framing), shared by
edge_face_tools.fuzz and tests/test_api_hostile.py.

A case is raw bytes on the wire (so nothing is "fixed" by an HTTP library) and the (status, code) it must get;
code None means "no JSON body is documented".
"""
from __future__ import annotations

import base64
import json
import socket
import struct
import time
import zlib
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlencode, urlsplit

from edge_face.crypto import VendorCipher

VERIFY = "/identity/image_verification/stateless"
ALL_PAIRS = "/identity/multiface_image_omni_verification/stateless"
QUALITY = "/quality/face/stateless"
LIVENESS = "/liveness/silent_detection/stateless"
FRS = "/v2/fuzz-project/face-compare"


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 400
    code: int | str | None = 1200
    content_length: bool = True  # False: no Content-Length and no chunking (411)


@dataclass(frozen=True)
class Outcome:
    name: str
    status: int
    code: int | str | None
    expected: tuple[int, int | str | None]
    seconds: float

    @property
    def ok(self) -> bool:
        return (self.status, self.code) == self.expected


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A valid PNG signature and header declaring width x height, with a few rows of zeros: 10 GB of pixels
    promised by a few hundred bytes. It must be refused from the header, never decoded."""
    rows = zlib.compress(b"\x00" * (width * 3 + 1) * 4, 9)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


def _multipart(parts: dict[str, tuple[str | None, bytes]], boundary: str = "fuzzboundary") -> tuple[bytes, str]:
    out = []
    for name, (filename, data) in parts.items():
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += [f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode(), data, b"\r\n"]
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def cases(photo: bytes, cipher: VendorCipher, api_key: str, frs_token: str,
          body_limit: int) -> list[Case]:
    """Every case for a server configured with `api_key`, `frs_token` and the body limit `body_limit`."""
    enc = cipher.encrypt
    good = enc(photo)
    form = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Bearer {api_key}"}
    frs_json = {"Content-Type": "application/json", "X-Auth-Token": frs_token}
    b64 = base64.b64encode(photo).decode()

    def urlform(**fields: str) -> bytes:
        return urlencode(fields).encode()

    def frs(**fields) -> bytes:
        return json.dumps(fields).encode()

    truncated = photo[: len(photo) // 2]
    mp_zero, mp_zero_type = _multipart({"image1_file": ("a.jpg", b""), "image2_file": ("b.jpg", photo)})
    mp_bomb, mp_bomb_type = _multipart({"image1_file": ("a.png", png_bomb()), "image2_file": ("b.jpg", photo)})
    mp_broken = b"--fuzzboundary\r\nContent-Disposition: form-data; name=\"first_encrypted_image\"\r\n\r\nabc"
    huge = "A" * (body_limit - 4096)
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    C = Case
    return [
        # broken and hostile files
        C("senseid-truncated-jpeg", "POST", VERIFY, urlform(first_encrypted_image=enc(truncated),
                                                             second_encrypted_image=good), form, 400, 2005),
        C("senseid-truncated-jpeg-1.2", "POST", ALL_PAIRS, urlform(first_encrypted_image=good,
                                                                   second_encrypted_image=enc(truncated)), form, 400, 2006),
        C("frs-truncated-jpeg", "POST", FRS, frs(image1_base64=base64.b64encode(truncated).decode(),
                                                 image2_base64=b64), frs_json, 400, "FRS.0012"),
        C("senseid-png-bomb", "POST", VERIFY, urlform(first_encrypted_image=enc(png_bomb()),
                                                      second_encrypted_image=good), form, 400, 2003),
        C("quality-png-bomb", "POST", QUALITY, urlform(encrypted_image=enc(png_bomb())), form, 400, 2003),
        C("frs-png-bomb", "POST", FRS, mp_bomb, {"Content-Type": mp_bomb_type, "X-Auth-Token": frs_token},
          400, "FRS.0013"),
        C("senseid-zero-byte-photo", "POST", VERIFY, urlform(first_encrypted_image=enc(b""),
                                                             second_encrypted_image=good), form, 400, 2005),
        C("senseid-empty-field", "POST", ALL_PAIRS, urlform(first_encrypted_image="", second_encrypted_image=good),
          form, 400, 1200),
        C("frs-zero-byte-file", "POST", FRS, mp_zero, {"Content-Type": mp_zero_type, "X-Auth-Token": frs_token},
          400, "FRS.0011"),
        C("senseid-zero-byte-body", "POST", VERIFY, b"", form, 400, 1200),
        C("frs-zero-byte-body", "POST", FRS, b"", frs_json, 400, "FRS.0014"),
        # wrong keys and tokens
        C("senseid-wrong-bearer", "POST", VERIFY, urlform(first_encrypted_image=good, second_encrypted_image=good),
          {**form, "Authorization": "Bearer not-the-key"}, 401, 1200),
        C("senseid-wrong-x-api-key", "POST", ALL_PAIRS, urlform(first_encrypted_image=good,
                                                                second_encrypted_image=good),
          {"Content-Type": form["Content-Type"], "X-API-Key": api_key + "x"}, 401, 1200),
        C("senseid-no-key", "POST", QUALITY, urlform(encrypted_image=good),
          {"Content-Type": form["Content-Type"]}, 401, 1200),
        C("frs-wrong-token", "POST", FRS, frs(image1_base64=b64, image2_base64=b64),
          {**frs_json, "X-Auth-Token": frs_token[::-1] + "x"}, 403, "FRS.0002"),
        C("frs-no-token", "POST", FRS, frs(image1_base64=b64, image2_base64=b64),
          {"Content-Type": "application/json"}, 400, "FRS.0010"),
        C("senseid-photo-wrong-aes-key", "POST", VERIFY,
          urlform(first_encrypted_image=VendorCipher("k" * 32, "i" * 12).encrypt(photo), second_encrypted_image=good),
          form, 400, 1200),
        # huge Base64
        C("senseid-huge-base64", "POST", VERIFY, urlform(first_encrypted_image=huge[: body_limit // 2],
                                                         second_encrypted_image=good), form, 400, 1200),
        # over FRS's 8 MB per image when the body limit allows it, else a huge non-image
        C("frs-huge-base64", "POST", FRS, frs(image1_base64=huge[: body_limit // 2], image2_base64=b64),
          frs_json, 400, "FRS.0013" if body_limit // 2 > 8 * 1024 * 1024 else "FRS.0012"),
        C("senseid-body-over-limit", "POST", VERIFY, urlform(first_encrypted_image=huge + "A" * 8192,
                                                             second_encrypted_image=good), form, 413, 2004),
        C("frs-body-over-limit", "POST", FRS, frs(image1_base64=huge + "A" * 8192, image2_base64=b64), frs_json,
          413, "FRS.0013"),
        # far over the limit: refused by the WSGI server unread, still in the vendor's JSON
        C("senseid-body-far-over-limit", "POST", VERIFY, b"A" * (body_limit + 2 * 1024 * 1024), form, 413, 2004),
        C("frs-body-far-over-limit", "POST", FRS, b"A" * (body_limit + 2 * 1024 * 1024), frs_json, 413, "FRS.0013"),
        # wrong content types and framing
        C("senseid-json-body", "POST", VERIFY, frs(first_encrypted_image=good, second_encrypted_image=good),
          {**form, "Content-Type": "application/json"}, 400, 1200),
        C("senseid-text-plain", "POST", ALL_PAIRS, b"first_encrypted_image=x", {**form, "Content-Type": "text/plain"},
          400, 1200),
        C("senseid-broken-multipart", "POST", VERIFY, mp_broken,
          {**form, "Content-Type": "multipart/form-data; boundary=fuzzboundary"}, 400, 1200),
        C("senseid-multipart-no-boundary", "POST", VERIFY, mp_broken,
          {**form, "Content-Type": "multipart/form-data"}, 400, 1200),
        C("senseid-binary-garbage-form", "POST", VERIFY, bytes(range(256)) * 64, form, 400, 1200),
        C("frs-form-urlencoded", "POST", FRS, urlform(image1_base64=b64, image2_base64=b64),
          {**frs_json, "Content-Type": "application/x-www-form-urlencoded"}, 400, "FRS.0014"),
        C("frs-text-plain", "POST", FRS, b"{}", {**frs_json, "Content-Type": "text/plain"}, 400, "FRS.0014"),
        C("frs-no-content-type", "POST", FRS, frs(image1_base64=b64, image2_base64=b64),
          {"X-Auth-Token": frs_token}, 400, "FRS.0010"),
        C("frs-not-json", "POST", FRS, b"{\"image1_base64\": ", frs_json, 400, "FRS.0014"),
        C("frs-deeply-nested-json", "POST", FRS, deep, frs_json, 400, "FRS.0014"),
        C("frs-invalid-utf8", "POST", FRS, b'{"image1_base64": "\xff\xfe\xfd"}', frs_json, 400, "FRS.0014"),
        C("frs-huge-number", "POST", FRS, b'{"image1_base64": ' + b"9" * 100_000 + b"}", frs_json, 400, "FRS.0014"),
        C("frs-bad-base64", "POST", FRS, frs(image1_base64="%%%not base64%%%", image2_base64=b64), frs_json,
          400, "FRS.0015"),
        C("senseid-no-content-length", "POST", VERIFY, urlform(first_encrypted_image=good, second_encrypted_image=good),
          form, 411, 1200, content_length=False),
        C("frs-no-content-length", "POST", FRS, frs(image1_base64=b64), frs_json, 411, "FRS.0010",
          content_length=False),
        # bad booleans
        C("senseid-bool-yes", "POST", VERIFY, urlform(first_encrypted_image=good, second_encrypted_image=good,
                                                      auto_rotate="yes"), form, 400, 1200),
        C("senseid-bool-empty", "POST", ALL_PAIRS, urlform(first_encrypted_image=good, second_encrypted_image=good,
                                                           auto_rotate=""), form, 400, 1200),
        C("senseid-bool-2", "POST", VERIFY, urlform(first_encrypted_image=good, second_encrypted_image=good,
                                                    check_quality="2"), form, 400, 1200),
        C("liveness-bool-maybe", "POST", LIVENESS, urlform(encrypted_video=good, return_status="maybe"), form,
          400, 1200),
        C("senseid-bool-nul", "POST", VERIFY, urlform(first_encrypted_image=good, second_encrypted_image=good,
                                                      auto_rotate="true\x00"), form, 400, 1200),
        # paths, methods, fields
        C("unknown-path", "POST", "/identity/../etc/passwd", b"", form, 404, 1200),
        C("frs-unknown-path", "POST", "/v2/p/face-detect", b"{}", frs_json, 404, "APIGW.0101"),
        C("senseid-get", "GET", VERIFY, b"", {}, 405, 1200),
        C("frs-put", "PUT", FRS, b"{}", frs_json, 405, "APIGW.0101"),
        C("senseid-long-field-name", "POST", VERIFY, urlform(**{"x" * 100_000: "1"}), form, 400, 1200),
        C("senseid-many-fields", "POST", VERIFY, urlencode([(f"f{i}", "1") for i in range(5000)]).encode(), form,
          400, 1200),
        C("senseid-many-multipart-parts", "POST", VERIFY,
          *(lambda b: (b[0], {**form, "Content-Type": b[1]}))(
              _multipart({f"f{i}": (None, b"1") for i in range(500)})), 413, 2004),
    ]


def send(base_url: str, case: Case, timeout: float = 120.0) -> Outcome:
    """Send the case's bytes as they are and read the answer until the server closes the connection."""
    parts = urlsplit(base_url)
    head = [f"{case.method} {case.path} HTTP/1.1", f"Host: {parts.hostname}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in case.headers.items()]
    if case.content_length:
        head.append(f"Content-Length: {len(case.body)}")
    started = time.perf_counter()
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        try:
            sock.sendall("\r\n".join(head).encode("latin-1") + b"\r\n\r\n" + case.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413) and close before reading a huge body: read what it said
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    seconds = time.perf_counter() - started
    raw = b"".join(chunks)
    header, _, body = raw.partition(b"\r\n\r\n")
    status = int(header.split()[1]) if header.startswith(b"HTTP/") else 0
    code: int | str | None = None
    try:
        answer = json.loads(body)
        code = answer.get("code", answer.get("error_code")) if isinstance(answer, dict) else None
    except ValueError:
        pass
    return Outcome(case.name, status, code, (case.status, case.code), seconds)


def run_all(base_url: str, all_cases: list[Case], alive: Callable[[], bool]) -> dict:
    """Every case, then `alive()` (a valid request succeeds) after each one: the JSON report of the run."""
    outcomes, dead_after = [], []
    for case in all_cases:
        outcome = send(base_url, case)
        outcomes.append(outcome)
        if not alive():
            dead_after.append(case.name)
    return {
        "cases": len(outcomes),
        "as_documented": sum(o.ok for o in outcomes),
        "server_errors_5xx": sum(o.status >= 500 for o in outcomes),
        "no_answer": sum(o.status == 0 for o in outcomes),
        "server_dead_after": dead_after,
        "outcomes": [{"case": o.name, "status": o.status, "code": o.code, "expected": list(o.expected),
                      "ok": o.ok, "ms": round(o.seconds * 1000, 1)} for o in outcomes],
    }
