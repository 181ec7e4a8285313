"""Nothing on disk (issue 15): the largest allowed bodies of every kind (SenseID form and chunked, 1.3 multipart,
FRS multipart, the kiosk's reference photo) through a real server process whose TMPDIR is an empty folder. Proven
with an audit hook in the server (tests/support/tmp_audit_server.py) that reports every open under TMPDIR, O_TMPFILE
included; the control run with the libraries' default spooling shows that the same requests do open files there."""
from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from edge_face.crypto import VendorCipher

MB = 1024 * 1024
PHOTO_LIMIT = 5 * MB  # limits.max_image_bytes


def _padded(photo: bytes, size: int) -> bytes:
    """A real photo padded after its end marker to `size` bytes (decoders ignore what follows)."""
    return photo + b"\0" * (size - len(photo))


class AuditedServer:
    def __init__(self, tmp: Path, legacy: bool) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "TMPDIR": str(tmp), "EDGE_FACE_PORT": str(port), "EDGE_FACE_CONFIG": "",
               "EDGE_FACE_DEVICE_KEY": "ab" * 32, "EDGE_FACE_STATE_DIR": str(tmp.parent / "state")}
        env.pop("EDGE_FACE_SECRETS_FILE", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.support.tmp_audit_server"]
                                     + (["--legacy"] if legacy else []), env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, cwd=Path(__file__).resolve().parent.parent)
        self.lines: list[str] = []
        first = self.proc.stdout.readline()
        assert first.startswith("PORT"), first
        self.url = f"http://127.0.0.1:{first.split()[1]}"
        threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True).start()
        deadline = time.monotonic() + 120
        while requests.get(self.url + "/readyz", timeout=30).status_code != 200:
            assert time.monotonic() < deadline, "the models did not load"
            time.sleep(0.5)

    def stop(self) -> list[str]:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        time.sleep(0.2)
        return [line.strip() for line in self.lines if line.startswith("TMPOPEN")]


def _largest_requests(url: str, photos: Path) -> list[tuple[str, int, object]]:
    """(what, HTTP status, code) of each request with the largest body its endpoint allows."""
    cipher = VendorCipher("dcbbad6765e14139a07d34b92292a672", "df25d188a061")
    big = _padded((photos / "obama.jpg").read_bytes(), PHOTO_LIMIT)
    big2 = _padded((photos / "obama2.jpg").read_bytes(), PHOTO_LIMIT)
    frs = [_padded((photos / n).read_bytes(), 4 * MB - 4096) for n in ("obama.jpg", "obama2.jpg")]
    pair = {"first_encrypted_image": cipher.encrypt(big), "second_encrypted_image": cipher.encrypt(big2)}
    out = []
    resp = requests.post(url + "/identity/image_verification/stateless", data=pair, timeout=120)
    out.append(("SenseID 1.1 form, 2 x 5 MB", resp.status_code, resp.json()["code"]))
    body = "&".join(f"{k}={requests.utils.quote(v, safe='')}" for k, v in pair.items()).encode()
    chunks = (body[i: i + 256 * 1024] for i in range(0, len(body), 256 * 1024))
    resp = requests.post(url + "/identity/image_verification/stateless", data=chunks, timeout=120,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    out.append(("SenseID 1.1 chunked", resp.status_code, resp.json()["code"]))
    resp = requests.post(url + "/identity/liveness_image_verification/stateless", timeout=120,
                         data={"encrypted_image": cipher.encrypt(big)},
                         files={"liveness_file": ("liveness", os.urandom(PHOTO_LIMIT))})
    out.append(("SenseID 1.3 multipart", resp.status_code, resp.json()["code"]))
    resp = requests.post(url + "/v2/p/face-compare", headers={"X-Auth-Token": "t"}, timeout=120,
                         files={"image1_file": ("1.jpg", frs[0]), "image2_file": ("2.jpg", frs[1])})
    out.append(("FRS multipart, 2 x 4 MB", resp.status_code, resp.json().get("error_code", "ok")))
    resp = requests.post(url + "/kiosk/verify", headers={"Origin": url}, timeout=120,
                         data={"package": base64.b64encode(os.urandom(MB)).decode()},
                         files={"reference": ("r.jpg", big)})
    out.append(("kiosk reference photo 5 MB", resp.status_code, resp.json()["code"]))
    return out


@pytest.mark.parametrize("legacy", [False, True], ids=["in-memory", "control-default-spooling"])
def test_the_largest_bodies_never_touch_the_disk(tmp_path, photos, legacy):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    server = AuditedServer(tmp, legacy)
    try:
        answers = _largest_requests(server.url, photos)
    finally:
        opened = server.stop()
    assert answers == [("SenseID 1.1 form, 2 x 5 MB", 200, 1000), ("SenseID 1.1 chunked", 200, 1000),
                       ("SenseID 1.3 multipart", 400, 2007), ("FRS multipart, 2 x 4 MB", 200, "ok"),
                       ("kiosk reference photo 5 MB", 400, 2007)], answers
    assert list(tmp.iterdir()) == []
    if legacy:
        assert len(opened) >= 5, opened  # waitress's and Werkzeug's spool files: what the settings prevent
    else:
        assert opened == [], opened
