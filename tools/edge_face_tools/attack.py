"""Security benchmark (issue 15): attacks against a real edge_face server process, every one expected refused.

    PYTHONPATH=tools .venv/bin/python -m edge_face_tools.attack [--seconds 20] [--memory-mb 1536] [--out FILE]

Starts `python -m edge_face.api.server` on a free loopback port (targets are loopback only; every loop is bounded)
with API keys, an FRS token, ops_require_key, a device key, its own state directory, TMPDIR pointed at an empty
folder and RLIMIT_DATA (prlimit's --data) at --memory-mb. Then: package replay (and a kiosk package, a missing
nonce), FRS token bypass, 100 slow clients, a flood of the largest bodies. Throughout, a monitor polls /readyz and
the server's open files (any under TMPDIR is a disk write) and RSS. After each attack a valid request must succeed.
Prints one JSON document; exit status 1 if any check failed.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests

from edge_face.crypto import VendorCipher
from edge_face.liveness.package import PackageSealer
from edge_face_tools import fixture_photos

API_KEY, FRS_TOKEN, DEVICE_KEY, DEVICE = "attack-api-key-1", "attack-frs-token", bytes(range(32)), "attack-device"
AES_KEY, AES_IV = "0123456789abcdef0123456789abcdef", "0123456789ab"
VERIFY, LIVENESS_FILE, FRS = ("/identity/image_verification/stateless",
                              "/identity/liveness_image_verification/stateless", "/v2/p1/face-compare")
MB = 1024 * 1024
DOCUMENTED_503 = {503}  # the body budget (refused before the body is read) and the service's own 503 (not ready, timeout)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Target:
    """The server process and the monitor that watches it."""

    def __init__(self, memory_mb: int, workdir: Path) -> None:
        self.tmp = workdir / "tmp"
        self.tmp.mkdir()
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "EDGE_FACE_PORT": str(port), "EDGE_FACE_HOST": "127.0.0.1", "EDGE_FACE_CONFIG": "",
               "EDGE_FACE_API_KEYS": API_KEY, "EDGE_FACE_FRS_TOKENS": FRS_TOKEN, "EDGE_FACE_OPS_REQUIRE_KEY": "true",
               "EDGE_FACE_DEVICE_KEY": DEVICE_KEY.hex(), "EDGE_FACE_DEVICE_ID": DEVICE, "EDGE_FACE_AES_KEY": AES_KEY,
               "EDGE_FACE_AES_IV": AES_IV, "EDGE_FACE_STATE_DIR": str(workdir / "state"), "TMPDIR": str(self.tmp),
               "EDGE_FACE_CLIENT_TIMEOUT": "10", "EDGE_FACE_LOG_LEVEL": "warning"}
        env.pop("EDGE_FACE_SECRETS_FILE", None)
        limit = memory_mb * MB
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge_face.api.server"], env=env, stdout=subprocess.DEVNULL,
            stderr=open(workdir / "server.log", "wb"),
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_DATA, (limit, limit)))
        self.auth = {"X-API-Key": API_KEY}
        deadline = time.monotonic() + 180
        while True:
            assert self.proc.poll() is None, (workdir / "server.log").read_text()[-2000:]
            try:
                if requests.get(self.url + "/readyz", headers=self.auth, timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.5)
        self.readyz: list[float | None] = []  # seconds per probe, None when it failed
        self.tmp_fds: set[str] = set()
        self.peak_rss = 0
        self._stop = threading.Event()
        self._monitor = threading.Thread(target=self._watch, daemon=True)
        self._monitor.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.25):
            started = time.monotonic()
            try:
                ok = requests.get(self.url + "/readyz", headers=self.auth, timeout=2).status_code == 200
                self.readyz.append(time.monotonic() - started if ok else None)
            except requests.RequestException:
                self.readyz.append(None)
            self.peak_rss = max(self.peak_rss, self.rss())
            fd_dir = Path(f"/proc/{self.proc.pid}/fd")
            for fd in list(fd_dir.iterdir()) if fd_dir.exists() else []:
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith(str(self.tmp)):
                    self.tmp_fds.add(target)

    def rss(self) -> int:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def stop(self) -> int:
        self._stop.set()
        self._monitor.join()
        hwm = 0
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
        self.proc.terminate()
        self.proc.wait(timeout=30)
        return hwm


class Drill:
    def __init__(self, target: Target, photos: Path) -> None:
        self.t = target
        self.cipher = VendorCipher(AES_KEY, AES_IV)
        self.photos = photos
        self.pair = {"first_encrypted_image": self.cipher.encrypt((photos / "obama.jpg").read_bytes()),
                     "second_encrypted_image": self.cipher.encrypt((photos / "obama2.jpg").read_bytes())}
        self.results: dict[str, dict] = {}

    def valid(self) -> bool:
        resp = requests.post(self.t.url + VERIFY, data=self.pair, headers=self.t.auth, timeout=60)
        return resp.status_code == 200 and resp.json().get("verification_score", 0) > 0.7

    def record(self, name: str, refused: bool, statuses: list[int], **extra) -> None:
        bad_5xx = sorted({s for s in statuses if s >= 500 and s not in DOCUMENTED_503})
        self.results[name] = {"refused": refused, "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
                              "undocumented_5xx": bad_5xx, "valid_request_after": self.valid(), **extra}

    def package(self, **kwargs) -> bytes:
        sealer = PackageSealer(DEVICE_KEY, DEVICE, ttl=60)
        return sealer.seal(passed=True, score=0.95, status="ok", face_seconds=2.5, frames=20,
                           frame=np.full((120, 160, 3), 90, np.uint8), face_rect=(10, 10, 100, 110),
                           aligned=np.full((112, 112, 3), 120, np.uint8), captured_unix=time.time(), **kwargs)

    def post_package(self, data: bytes, **fields) -> tuple[int, int]:
        photo = self.cipher.encrypt((self.photos / "obama2.jpg").read_bytes())
        resp = requests.post(self.t.url + LIVENESS_FILE, data={"encrypted_image": photo, **fields},
                             files={"liveness_file": ("liveness", data)}, headers=self.t.auth, timeout=60)
        return resp.status_code, resp.json()["code"]

    def package_replay(self) -> None:
        data = self.package()
        uses = [self.post_package(data) for _ in range(3)]
        kiosk = self.post_package(self.package(audience="kiosk"))
        bound = self.package(nonce="caller-1")
        nonce = [self.post_package(bound), self.post_package(bound, nonce="caller-2"),
                 self.post_package(bound, nonce="caller-1")]
        refused = ([c for _, c in uses] == [1000, 2007, 2007] and kiosk[1] == 2007
                   and [c for _, c in nonce] == [2007, 2007, 1000])
        self.record("package_replay", refused, [s for s, _ in uses + [kiosk] + nonce],
                    codes={"same_package_3_times": [c for _, c in uses], "kiosk_package_to_1_3": kiosk[1],
                           "nonce_missing_other_right": [c for _, c in nonce]})

    def frs_token_bypass(self) -> None:
        body = {"image1_base64": base64.b64encode((self.photos / "obama.jpg").read_bytes()).decode(),
                "image2_base64": base64.b64encode((self.photos / "obama2.jpg").read_bytes()).decode()}
        cases = {"made-up": {"X-Auth-Token": "made-up"}, "empty": {}, "api-key-as-bearer-only":
                 {"Authorization": f"Bearer {API_KEY}"}, "unverifiable-signature":
                 {"Authorization": "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=00"}}
        answers = {}
        for name, headers in cases.items():
            resp = requests.post(self.t.url + FRS, json=body, headers=headers, timeout=60)
            answers[name] = (resp.status_code, resp.json().get("error_code"))
        ok = requests.post(self.t.url + FRS, json=body, headers={"X-Auth-Token": FRS_TOKEN}, timeout=60)
        refused = all(s in (400, 403) for s, _ in answers.values()) and ok.status_code == 200
        self.record("frs_token_bypass", refused, [s for s, _ in answers.values()] + [ok.status_code],
                    answers={k: v[1] for k, v in answers.items()}, configured_token=ok.status_code)

    def slow_clients(self, seconds: float, count: int = 100) -> None:
        port = int(self.t.url.rsplit(":", 1)[1])
        socks = []
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(f"POST {VERIFY} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n".encode())
            socks.append(s)
        before = len(self.t.readyz)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:  # one byte per second per client: never idle, never done
            for s in socks:
                try:
                    s.sendall(b"x")
                except OSError:
                    pass
            time.sleep(1.0)
        closed = 0
        for s in socks:
            s.settimeout(0.5)
            try:
                closed += s.recv(1) == b""
            except ConnectionResetError:
                closed += 1
            except socket.timeout:
                pass
            s.close()
        probes = self.t.readyz[before:]
        self.record("slow_clients_100", True, [], cut_off_by_client_timeout=closed,
                    readyz_probes=len(probes), readyz_failed=sum(p is None for p in probes),
                    readyz_worst_s=round(max((p for p in probes if p is not None), default=0.0), 3))

    def large_flood(self, seconds: float, workers: int = 8) -> None:
        big_form = {"first_encrypted_image": "A" * (32 * MB - 4096)}  # the largest body allowed, refused by content
        photo = (self.photos / "obama.jpg").read_bytes()
        pad = photo + b"\0" * (5 * MB - len(photo))
        pair = {"first_encrypted_image": self.cipher.encrypt(pad), "second_encrypted_image": self.cipher.encrypt(pad)}
        statuses: list[int] = []
        lock = threading.Lock()
        deadline = time.monotonic() + seconds

        def worker(i: int) -> None:
            rounds = 0
            while time.monotonic() < deadline and rounds < 50:
                rounds += 1
                data = big_form if i % 2 else pair
                try:
                    status = requests.post(self.t.url + VERIFY, data=data, headers=self.t.auth, timeout=60).status_code
                except requests.RequestException:
                    status = 0  # connection closed by the server (budget refusal mid-send)
                with lock:
                    statuses.append(status)

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(worker, range(workers)))
        self.record("large_body_flood", all(s in (200, 400, 413, 503, 0) for s in statuses), statuses,
                    requests_sent=len(statuses))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the slow-client and flood attacks")
    parser.add_argument("--memory-mb", type=int, default=1536, help="RLIMIT_DATA of the server = the RSS budget")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    photos = fixture_photos.require("obama.jpg", "obama2.jpg")
    with tempfile.TemporaryDirectory(prefix="edge-face-attack-") as work:
        target = Target(args.memory_mb, Path(work))
        drill = Drill(target, photos)
        started = time.monotonic()
        try:
            drill.package_replay()
            drill.frs_token_bypass()
            drill.slow_clients(args.seconds)
            drill.large_flood(args.seconds)
        finally:
            alive = target.proc.poll() is None
            hwm = target.stop() if alive else 0
        leftovers = sorted(p.name for p in target.tmp.iterdir())
    probes = target.readyz
    report = {
        "attacks": drill.results,
        "disk": {"files_left_in_tmpdir": leftovers, "open_files_seen_under_tmpdir": sorted(target.tmp_fds)},
        "server": {"alive_throughout": alive, "peak_rss_mb": round(hwm / MB, 1),
                   "rss_budget_mb": args.memory_mb, "under_budget": 0 < hwm < args.memory_mb * MB},
        "readyz": {"probes": len(probes), "failed": sum(p is None for p in probes),
                   "p50_s": round(float(np.median([p for p in probes if p is not None])), 4) if probes else None,
                   "worst_s": round(max((p for p in probes if p is not None), default=0.0), 3)},
        "seconds": round(time.monotonic() - started, 1),
    }
    passed = (alive and report["server"]["under_budget"] and not leftovers and not target.tmp_fds
              and report["readyz"]["failed"] == 0
              and all(r["refused"] and r["valid_request_after"] and not r["undocumented_5xx"]
                      for r in drill.results.values()))
    report["passed"] = passed
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
