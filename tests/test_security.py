"""Issue 15 over real HTTP: one key policy (FRS, ops), the Host and Origin of the kiosk, security headers, safe
defaults when exposed, log injection, the secrets file's owner, slow clients and the body budget. Packages (single
use, nonce, audience) are tested in test_camera; nothing on disk in test_no_disk."""
from __future__ import annotations

import base64
import logging
import os
import json
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest
import requests

from edge_face.api.exposure import VENDOR_AES_KEY, check_exposure
from edge_face.api.watchdog import readyz_probe
from edge_face.config import ConfigError, load_config

VERIFY = "/identity/image_verification/stateless"
FRS = "/v2/project-1/face-compare"
KEY = "security-test-key"


def _frs_body(api, photos) -> dict:
    pair = [base64.b64encode((photos / n).read_bytes()).decode() for n in ("obama.jpg", "obama2.jpg")]
    return {"image1_base64": pair[0], "image2_base64": pair[1]}


# ---------------------------------------------------------------- one key policy


def test_frs_needs_a_token_or_an_api_key_when_api_keys_are_configured(api_server, photos):
    keyed = api_server(api_keys=(KEY,))
    body = _frs_body(keyed, photos)
    for token, status in (("made-up", 403), (KEY + "x", 403), (KEY, 200)):
        resp = requests.post(keyed.url + FRS, json=body, headers={"X-Auth-Token": token}, timeout=60)
        assert resp.status_code == status, (token, resp.text)
        if status == 403:
            assert resp.json()["error_code"] == "FRS.0002"
    # A signature cannot be checked without credentials: refused, not waved through.
    signed = {"Authorization": "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=00", "X-Sdk-Date":
              time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())}
    resp = requests.post(keyed.url + FRS, json=body, headers=signed, timeout=60)
    assert (resp.status_code, resp.json()["error_code"]) == (403, "FRS.0002")
    # frs_tokens and api_keys both work; without either configured any token passes (loopback lab set-up).
    both = api_server(api_keys=(KEY,), frs_tokens=("frs-token",))
    for token, status in (("frs-token", 200), (KEY, 200), ("made-up", 403)):
        assert requests.post(both.url + FRS, json=body, headers={"X-Auth-Token": token},
                             timeout=60).status_code == status, token


def test_ops_require_key_guards_readyz_and_metrics_not_healthz(api_server):
    ops = api_server(api_keys=(KEY,), ops_require_key=True)
    port = int(ops.url.rsplit(":", 1)[1])
    assert requests.get(ops.url + "/healthz", timeout=10).status_code == 200
    for path in ("/readyz", "/metrics"):
        resp = requests.get(ops.url + path, timeout=10)
        assert (resp.status_code, resp.json()["code"]) == (401, 1200), path
        assert "models" not in resp.text and "thresholds" not in resp.text
        assert requests.get(ops.url + path, headers={"X-API-Key": KEY}, timeout=10).status_code == 200
    # The watchdog's probe presents the key; without it the probe reports the 401.
    assert readyz_probe("127.0.0.1", port, 5.0, KEY) is None
    assert readyz_probe("127.0.0.1", port, 5.0) == "/readyz answered 401"
    with pytest.raises(ConfigError, match="ops_require_key"):
        load_config(env={"EDGE_FACE_OPS_REQUIRE_KEY": "true"})


# ---------------------------------------------------------------- host, origin, headers


def test_host_must_be_ours_and_every_response_says_nosniff(api, photos):
    for host in ("evil.example", "evil.example:3000", "localhost.evil.example"):
        for path in ("/kiosk", "/readyz", "/metrics"):
            resp = requests.get(api.url + path, headers={"Host": host}, timeout=10)
            assert (resp.status_code, resp.json()["code"]) == (400, 1200), (host, path)
        resp = requests.post(api.url + FRS, json={}, headers={"Host": host, "X-Auth-Token": "t"}, timeout=10)
        assert resp.status_code == 400 and "error_code" in resp.json()
    port = api.url.rsplit(":", 1)[1]
    for host in (f"localhost:{port}", f"LOCALHOST:{port}", f"127.0.0.1:{port}", "127.0.0.1", f"[::1]:{port}",
                 "192.168.1.20:3000"):
        assert requests.get(api.url + "/healthz", headers={"Host": host}, timeout=10).status_code == 200, host
    for path, kwargs in (("/healthz", {}), ("/kiosk", {}), ("/metrics", {}), ("/nowhere", {}),
                         (FRS, {"method": "POST"}), (VERIFY, {"method": "POST", "data": {"x": "1"}})):
        resp = requests.request(kwargs.pop("method", "GET"), api.url + path, timeout=30, **kwargs)
        assert resp.headers["X-Content-Type-Options"] == "nosniff", path
        assert resp.headers["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"], path
    page = requests.get(api.url + "/kiosk", timeout=10).headers["Content-Security-Policy"]
    assert "script-src 'self'" in page and "frame-ancestors 'none'" in page


def test_allowed_hosts_lists_names_and_star_allows_any(api_server):
    named = api_server(allowed_hosts=("kiosk-7.lan",))
    assert requests.get(named.url + "/healthz", headers={"Host": "kiosk-7.lan:3000"}, timeout=10).status_code == 200
    assert requests.get(named.url + "/healthz", headers={"Host": "localhost"}, timeout=10).status_code == 400
    star = api_server(allowed_hosts=("*",))
    assert requests.get(star.url + "/healthz", headers={"Host": "any.example"}, timeout=10).status_code == 200


def test_kiosk_posts_need_the_pages_own_origin(api):
    ref = {"reference": ("r.jpg", b"not a photo")}
    for headers in ({}, {"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Origin": api.url.replace("127.0.0.1", "localhost")},
                    {"Origin": api.url, "Sec-Fetch-Site": "cross-site"}):
        for path in ("/kiosk/verify", "/kiosk/liveness"):
            resp = requests.post(api.url + path, data={"package": "AAAA"}, files=ref, headers=headers, timeout=10)
            assert (resp.status_code, resp.json()["code"]) == (403, 1200), (path, headers)
            assert "own page" in resp.json()["message"]
    resp = requests.post(api.url + "/kiosk/verify", data={"package": "AAAA"}, files=ref,
                         headers={"Origin": api.url, "Sec-Fetch-Site": "same-origin"}, timeout=10)
    assert (resp.status_code, resp.json()["code"]) == (400, 2007)  # past the origin check: a package that is none
    # GETs (the page, its preview) are not state-changing and need no Origin.
    assert requests.get(api.url + "/kiosk", timeout=10).status_code == 200


# ---------------------------------------------------------------- safe defaults when exposed


def _serve(env_changes: dict) -> subprocess.CompletedProcess:
    with socket.socket() as probe:  # a free port (the service refuses port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "EDGE_FACE_PORT": str(port), "EDGE_FACE_CONFIG": "", **env_changes}
    env.pop("EDGE_FACE_SECRETS_FILE", None)
    return subprocess.run([sys.executable, "-m", "edge_face.api.server"], env=env, capture_output=True, text=True,
                          timeout=60)


def test_exposed_without_api_keys_refuses_to_start(tmp_path):
    done = _serve({"EDGE_FACE_HOST": "0.0.0.0"})
    assert done.returncode == 2, done
    assert "refusing to serve on 0.0.0.0 without api_keys" in done.stderr and "Traceback" not in done.stderr


def test_exposure_rules_and_the_vendor_key_warning(caplog):
    config = load_config(env={})
    with caplog.at_level(logging.WARNING, logger="edge_face.security"):
        check_exposure(config, ["127.0.0.1", "::1"])  # loopback: starts, with the vendor-key warning
        assert config.aes_key == VENDOR_AES_KEY and "vendor's published default key" in caplog.text
        with pytest.raises(ConfigError, match="without api_keys"):
            check_exposure(config, ["127.0.0.1", "192.168.1.20"])
        caplog.clear()
        check_exposure(replace(config, api_keys=(KEY,), aes_key="k" * 32), ["0.0.0.0"])
        assert caplog.text == ""  # keys and an own AES key: silent
        check_exposure(replace(config, allow_insecure=True), ["::"])
        assert "without api_keys (allow_insecure = true)" in caplog.text
        assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.ERROR]


# ---------------------------------------------------------------- logs and secrets


def test_request_paths_are_escaped_in_the_access_log(api, caplog):
    with caplog.at_level("INFO", logger="edge_face.api.access"):
        raw = socket.create_connection(("127.0.0.1", int(api.url.rsplit(":", 1)[1])), timeout=10)
        raw.sendall(b"GET /x%0A2024-01-01%20INFO%20edge_face.api.access%20GET%20/forged%0D%1B[31m%C3%A9 HTTP/1.1\r\n"
                    b"Host: localhost\r\nConnection: close\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 404")
        raw.close()
        deadline = time.monotonic() + 5
        while not [r for r in caplog.records if "forged" in r.getMessage()]:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    (line,) = [r.getMessage() for r in caplog.records if "forged" in r.getMessage()]
    assert "\n" not in line and "\r" not in line and "\x1b" not in line, line
    assert line.startswith("GET /x%0A2024-01-01%20INFO%20edge_face.api.access%20GET%20/forged%0D%1B%5B31m%C3%A9 ")


def test_secrets_file_of_another_owner_is_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    path = tmp_path / "secrets.toml"
    path.write_text('api_keys = ["k1234"]\n')
    path.chmod(0o600)
    os.chown(path, 65534, 65534)
    with pytest.raises(ConfigError) as exc:
        load_config(env={"EDGE_FACE_SECRETS_FILE": str(path)})
    assert "owned by uid 65534" in str(exc.value) and "k1234" not in str(exc.value)
    os.chown(path, 0, 0)
    assert load_config(env={"EDGE_FACE_SECRETS_FILE": str(path)}).api_keys == ("k1234",)


# ---------------------------------------------------------------- slow clients and the body budget


def _slow_clients(port: int, count: int) -> list[socket.socket]:
    """`count` connections that have sent half a request head each (a slowloris)."""
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"POST " + VERIFY.encode() + b" HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n")
        socks.append(s)
    return socks


def _trickle(socks: list[socket.socket], stop: threading.Event) -> None:
    while not stop.wait(0.5):
        for s in socks:
            try:
                s.sendall(b"X-A: b\r\n")
            except OSError:
                pass


def _readyz_seconds(url: str) -> float:
    started = time.monotonic()
    resp = requests.get(url + "/readyz", timeout=3)
    assert resp.status_code == 200
    return time.monotonic() - started


def test_a_hundred_slow_clients_neither_block_readyz_nor_stay_for_ever(api_server, photos):
    api = api_server(client_timeout=4.0, server_threads=4)
    port = int(api.url.rsplit(":", 1)[1])
    socks, stop = _slow_clients(port, 100), threading.Event()
    trickler = threading.Thread(target=_trickle, args=(socks, stop), daemon=True)
    trickler.start()
    try:
        worst = max(_readyz_seconds(api.url) for _ in range(6) if time.sleep(0.3) is None)
        assert worst < 1.0, worst
        api.assert_alive(photos)
        time.sleep(6.0)  # past client_timeout (+ a check interval): every slow request is cut off
        closed = 0
        for s in socks:
            s.settimeout(2)
            try:
                data = s.recv(1)
            except ConnectionResetError:
                data = b""
            except socket.timeout:
                data = None  # still open: a failure
            closed += data == b""
        assert closed == 100, closed
    finally:
        stop.set()
        trickler.join()
        for s in socks:
            s.close()


def test_without_the_connection_headroom_readyz_would_wait(api_server):
    """The control: with waitress's default of 100 connections, the same slow clients starve /readyz."""
    api = api_server(max_connections=100, client_timeout=60.0)
    socks = _slow_clients(int(api.url.rsplit(":", 1)[1]), 100)
    try:
        time.sleep(0.5)
        with pytest.raises(requests.exceptions.ReadTimeout):
            _readyz_seconds(api.url)
    finally:
        for s in socks:
            s.close()


def _until_closed(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_bodies_over_the_memory_budget_are_503_before_they_are_read(api_server, photos):
    from edge_face.config import Limits

    mb = 1024 * 1024
    api = api_server(limits=Limits(max_body_bytes=2 * mb), max_buffered_bytes=3 * mb)
    port = int(api.url.rsplit(":", 1)[1])
    head = (f"POST {VERIFY} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {2 * mb}\r\n\r\n").encode()
    first = socket.create_connection(("127.0.0.1", port), timeout=10)
    first.sendall(head + b"a=" + b"b" * 1000)  # 2 MB announced, held
    time.sleep(0.3)
    second = socket.create_connection(("127.0.0.1", port), timeout=10)
    second.sendall(head)
    answer = _until_closed(second)
    assert answer.startswith(b"HTTP/1.1 503") and b"Connection: close" in answer, answer
    head_part, body = answer.split(b"\r\n\r\n", 1)
    assert b"Retry-After: 1" in head_part and b"application/json" in head_part, answer
    assert json.loads(body)["code"] == 5000, answer  # the vendor's JSON, not waitress's plain text
    second.close()
    frs = socket.create_connection(("127.0.0.1", port), timeout=10)
    frs.sendall(head.replace(VERIFY.encode(), FRS.encode()))
    answer = _until_closed(frs)
    assert answer.startswith(b"HTTP/1.1 503"), answer
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error_code"] == "FRS.0500", answer  # Huawei's shape
    frs.close()
    first.close()  # its reservation is given back: the next large body is read and answered by the app
    time.sleep(0.3)
    resp = requests.post(api.url + VERIFY, data={"first_encrypted_image": "x" * (mb + 1000)}, timeout=30)
    assert resp.status_code == 400 and resp.json()["code"] in (1200, 2004)
    api.assert_alive(photos)
