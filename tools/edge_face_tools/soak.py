"""Soak: N minutes of mixed valid and hostile requests from K clients against the real service, run the way the
appliance runs it (socket-activated, Type=notify with WatchdogSec=, Restart=), with the service process killed
(SIGKILL) once mid-run. Prints one JSON report.

    python -m edge_face_tools.soak --minutes 10 --clients 4        (or: make soak)

Why a supervisor and not "kill a worker": waitress serves on threads of one process, so the unit of failure is the
process. edge_face_tools.supervisor plays systemd's part with the same protocols (it holds the listening socket as
edge-face.socket does, passes it as fd 3, reads READY=1/WATCHDOG=1 from a real $NOTIFY_SOCKET, restarts the
process RestartSec= after it dies). Requests that arrive while no process runs wait in the socket's queue.

Reported: requests by kind and outcome, 5xx (must be 0), answers not as documented, connections lost (only
requests in flight on the killed process may be), latency percentiles of valid 1.1 requests (steady state, and
around the restart), RSS of each service process sampled every 2 s (growth after warm-up), the restart timeline,
and the valid requests sent after the kill.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import statistics
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from edge_face.crypto import VendorCipher
from edge_face.observability import rss_bytes
from edge_face_tools import fixture_photos, hostile
from edge_face_tools.supervisor import Supervisor

KEY, TOKEN = "soak-api-key-0123456789", "soak-frs-token-0123456789"
AES_KEY, AES_IV = "soak0123456789abcdef0123456789ab", "soak-nonce12"
BODY_LIMIT = 4 * 1024 * 1024  # keeps the near-limit hostile bodies cheap; the path is the same as at 32 MB


def valid_cases(photos: Path, cipher: VendorCipher) -> list[hostile.Case]:
    """Valid requests with their documented answers: 1.1 same / different person, 1.2 on a group photo, FRS."""
    import base64

    form = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Bearer {KEY}"}
    read = {name: (photos / name).read_bytes() for name in ("obama.jpg", "obama2.jpg", "biden.jpg", "t1.jpg")}

    def pair(a: str, b: str) -> bytes:
        return urlencode({"first_encrypted_image": cipher.encrypt(read[a]),
                          "second_encrypted_image": cipher.encrypt(read[b])}).encode()

    frs = json.dumps({"image1_base64": base64.b64encode(read["obama.jpg"]).decode(),
                      "image2_base64": base64.b64encode(read["obama2.jpg"]).decode()}).encode()
    C = hostile.Case
    return [
        C("valid-1.1-same", "POST", hostile.VERIFY, pair("obama.jpg", "obama2.jpg"), form, 200, 1000),
        C("valid-1.1-different", "POST", hostile.VERIFY, pair("obama.jpg", "biden.jpg"), form, 200, 1000),
        C("valid-1.2-group", "POST", hostile.ALL_PAIRS, pair("t1.jpg", "obama.jpg"), form, 200, 1000),
        C("valid-frs", "POST", "/v2/soak/face-compare", frs,
          {"Content-Type": "application/json", "X-Auth-Token": TOKEN}, 200, None),
    ]


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))], 1)


def _latency(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": _pct(values, 50), "p90_ms": _pct(values, 90), "p99_ms": _pct(values, 99),
            "max_ms": round(max(values), 1) if values else None}


def run(minutes: float, clients: int, think: float, kill_at: float, warmup: float, seed: int, log: Path | None) -> dict:
    photos = fixture_photos.require("obama.jpg", "obama2.jpg", "biden.jpg", "t1.jpg")
    cipher = VendorCipher(AES_KEY, AES_IV)
    valid = valid_cases(photos, cipher)
    bad = [c for c in hostile.cases((photos / "obama.jpg").read_bytes(), cipher, KEY, TOKEN, BODY_LIMIT)]
    tmp = tempfile.TemporaryDirectory(prefix="edge-face-soak-")
    secrets = Path(tmp.name) / "secrets.toml"
    secrets.write_text(f'aes_key = "{AES_KEY}"\naes_iv = "{AES_IV}"\napi_keys = ["{KEY}"]\nfrs_tokens = ["{TOKEN}"]\n')
    secrets.chmod(0o600)
    env = {**os.environ, "EDGE_FACE_SECRETS_FILE": str(secrets), "EDGE_FACE_MAX_BODY_BYTES": str(BODY_LIMIT),
           "EDGE_FACE_LOG_FORMAT": "text", "EDGE_FACE_LOG_LEVEL": "warning"}
    sup = Supervisor(env=env, restart_sec=1.0, watchdog_sec=30.0, log=log).start()
    results: list[dict] = []
    rss: list[tuple[float, int, int]] = []  # (t, pid, bytes)
    lock = threading.Lock()
    try:
        sup.wait_for("READY=1", timeout=180)
        t0 = time.monotonic()
        end = t0 + minutes * 60
        stop = threading.Event()

        def client(i: int) -> None:
            r = random.Random(seed * 1000 + i)
            while not stop.is_set() and time.monotonic() < end:
                # 2 of 3 valid (most of them 1.1), 1 of 3 hostile.
                case = r.choice(bad) if r.random() < 1 / 3 else r.choice(valid[:2] * 4 + valid[2:])
                sent = time.monotonic()
                try:
                    out = hostile.send(sup.url, case, timeout=120)
                    status, code, ok, ms = out.status, out.code, out.ok, out.seconds * 1000
                except OSError as exc:
                    status, code, ok, ms = 0, type(exc).__name__, False, (time.monotonic() - sent) * 1000
                if case.name.startswith("valid") and case.code is None:
                    ok = status == 200  # FRS success carries no code field
                with lock:
                    results.append({"t": sent - t0, "done": time.monotonic() - t0, "case": case.name,
                                    "valid": case.name.startswith("valid"), "status": status, "code": code,
                                    "ok": ok, "ms": ms})
                if think:
                    stop.wait(r.uniform(0, 2 * think))

        def sampler() -> None:
            while not stop.is_set() and time.monotonic() < end:
                pid = sup.pid
                value = rss_bytes(pid)
                if value:
                    rss.append((time.monotonic() - t0, pid, value))
                stop.wait(2.0)

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
        threads.append(threading.Thread(target=sampler, daemon=True))
        for t in threads:
            t.start()
        kill = {}
        stop.wait(max(0.0, t0 + kill_at * 60 - time.monotonic()))
        if not stop.is_set():
            kill["pid"] = sup.kill(signal.SIGKILL)
            kill["t"] = time.monotonic() - t0
            # A valid request sent right after the kill, while no process serves the socket.
            probe = hostile.send(sup.url, valid[0], timeout=180)
            kill["first_valid_after_kill"] = {"status": probe.status, "code": probe.code,
                                              "ms": round(probe.seconds * 1000, 1)}
            new_pid = sup.pid
            kill["new_pid"] = new_pid
            kill["ready_t"] = round(sup.wait_for("READY=1", pid=new_pid, timeout=180) - t0, 2)
            kill["recovery_s"] = round(kill["ready_t"] - kill["t"], 2)
            kill["t"] = round(kill["t"], 2)
        for t in threads:
            t.join(timeout=minutes * 60 + 300)
        stop.set()
        wall = time.monotonic() - t0
        log_tail = ""
    finally:
        sup.stop()
        tmp.cleanup()
    if log and log.exists():
        log_tail = "\n".join(log.read_text(errors="replace").splitlines()[-5:])

    kill_t, ready_t = kill.get("t", float("inf")), kill.get("ready_t", float("inf"))
    in_flight = [r for r in results if r["t"] < kill_t <= r["done"]]
    after = [r for r in results if r["t"] >= kill_t]
    steady = [r for r in results if not (r["t"] < ready_t + 5 and r["done"] > kill_t)]
    lat_valid = [r["ms"] for r in steady if r["case"] == "valid-1.1-same" and r["ok"]]
    restart_lat = [r["ms"] for r in results if r["case"].startswith("valid-1.1") and r["ok"]
                   and r["t"] < ready_t + 5 and r["done"] > kill_t]
    by_case: dict[str, dict[str, int]] = {}
    for r in results:
        d = by_case.setdefault(r["case"], {})
        key = f"{r['status']}/{r['code']}"
        d[key] = d.get(key, 0) + 1

    def rss_growth(pid: int) -> dict:
        samples = [(t, b) for t, p, b in rss if p == pid]
        if not samples:
            return {}
        start = samples[0][0] + warmup
        last = samples[-1][0]
        window = min(60.0, max(10.0, (last - start) / 4))
        base = [b for t, b in samples if start <= t < start + window]
        tail = [b for t, b in samples if t > last - window]
        out = {"pid": pid, "samples": len(samples), "seconds": round(last - samples[0][0], 1),
               "rss_mb_first": round(samples[0][1] / 2**20, 1), "rss_mb_max": round(max(b for _, b in samples) / 2**20, 1)}
        if base and tail and last - start > 2 * window:
            b0, b1 = statistics.median(base), statistics.median(tail)
            out.update({"rss_mb_after_warmup": round(b0 / 2**20, 1), "rss_mb_end": round(b1 / 2**20, 1),
                        "growth_pct": round(100 * (b1 - b0) / b0, 2), "window_s": window})
        return out

    pids = list(dict.fromkeys(p for _, p, _ in rss))
    return {
        "benchmark": "soak",
        "machine": {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "minutes": minutes, "clients": clients, "think_s": think, "wall_s": round(wall, 1), "warmup_s": warmup,
        "requests": len(results), "valid": sum(r["valid"] for r in results),
        "hostile": sum(not r["valid"] for r in results),
        "server_errors_5xx": sum(r["status"] >= 500 for r in results),
        "not_as_documented": sum((not r["ok"]) and r["status"] != 0 for r in results),
        "no_answer": sum(r["status"] == 0 for r in results),
        "no_answer_in_flight_at_kill": sum(r["status"] == 0 for r in in_flight),
        "requests_in_flight_at_kill": len(in_flight),
        "sent_after_kill": {"valid": sum(r["valid"] for r in after),
                            "valid_ok": sum(r["valid"] and r["ok"] for r in after),
                            "no_answer": sum(r["status"] == 0 for r in after)},
        "kill": kill,
        "latency_valid_1_1_steady": _latency(lat_valid),
        "latency_valid_1_1_around_restart": _latency(restart_lat),
        "rss_per_process": [rss_growth(p) for p in pids],
        "by_case": by_case,
        "wrong": [r for r in results if not r["ok"]][:20],
        "service_log_tail": log_tail,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--think", type=float, default=0.05, help="mean pause between a client's requests (s)")
    ap.add_argument("--kill-at", type=float, help="minute of the SIGKILL (default: mid-run); negative: never")
    ap.add_argument("--warmup", type=float, default=60.0, help="seconds of each process not counted for RSS growth")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--log", type=Path, help="append the service's output here")
    args = ap.parse_args()
    kill_at = args.minutes / 2 if args.kill_at is None else args.kill_at
    kill_at = float("inf") if kill_at < 0 else kill_at
    print(json.dumps(run(args.minutes, args.clients, args.think, kill_at, args.warmup, args.seed, args.log),
                     indent=2, default=str))


if __name__ == "__main__":
    main()
