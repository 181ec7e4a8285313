"""Fuzz the whole API: start the real server (`python -m edge_face.api.server`, real models, own process), drive
every operation of its /openapi.json with schemathesis, then send the hand-written hostile cases
(edge_face_tools.hostile), checking after each that a valid request still succeeds. Prints one JSON report.

    pip install -e 'tools/[fuzz]'
    python -m edge_face_tools.fuzz [--max-examples 100] [--seed 1]        (or: make fuzz)

Success means: zero 5xx, zero schemathesis failures (status codes, content types and bodies as documented),
every hostile case answered with its documented status and code, the server process still alive, and a valid
verification and FRS comparison succeeding at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from edge_face.client import EdgeFaceClient
from edge_face.config import Config, load_config
from edge_face.crypto import VendorCipher
from edge_face_tools import fixture_photos, hostile
from edge_face_tools.server import free_port, wait_ready

API_KEY, FRS_TOKEN = "fuzz-key", "fuzz-token"
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
          "negative_data_rejection")


def valid_requests_succeed(url: str, photos: Path) -> bool:
    client = EdgeFaceClient(url, api_key=API_KEY, frs_token=FRS_TOKEN, timeout=120)
    try:
        verify = client.verify(photos / "obama.jpg", photos / "obama2.jpg")
        frs = client.frs_compare(photos / "obama.jpg", photos / "obama2.jpg")
    except Exception:  # noqa: BLE001 - a dead server is an outcome here, not a crash of the benchmark
        return False
    return verify.get("code") == 1000 and verify["verification_score"] > 0.7 and frs.get("similarity", 0) > 0.93


def run_schemathesis(url: str, max_examples: int, seed: int, workdir: Path) -> dict:
    """schemathesis against the live /openapi.json; statuses counted from its HAR report (one entry per call)."""
    har = workdir / "run.har"
    cmd = [sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json", "--url", url,
           "-H", f"Authorization: Bearer {API_KEY}", "-H", f"X-Auth-Token: {FRS_TOKEN}",
           "--checks", CHECKS, "--max-examples", str(max_examples), "--seed", str(seed), "--workers", "1",
           "--phases", "examples,coverage,fuzzing", "--request-timeout", "120", "--continue-on-failure",
           "--suppress-health-check", "all", "--report", "har", "--report-har-path", str(har),
           "--output-truncate", "true"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)
    seconds = time.perf_counter() - started
    entries = json.loads(har.read_text())["log"]["entries"] if har.exists() else []
    statuses = Counter(e["response"]["status"] for e in entries)
    by_operation: dict[str, Counter] = {}
    for e in entries:
        path = e["request"]["url"].removeprefix(url).split("?")[0]
        key = f'{e["request"]["method"]} {"/v2/{project_id}/face-compare" if path.startswith("/v2/") else path}'
        by_operation.setdefault(key, Counter())[e["response"]["status"]] += 1
    tail = proc.stdout.strip().splitlines()[-25:]
    return {
        "exit_code": proc.returncode,
        "seconds": round(seconds, 1),
        "requests": len(entries),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "server_errors_5xx": sum(v for k, v in statuses.items() if k >= 500 or k == 0),
        "by_operation": {k: {str(s): n for s, n in sorted(v.items())} for k, v in sorted(by_operation.items())},
        "summary": tail,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=100, help="schemathesis examples per operation")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    photos = fixture_photos.require("obama.jpg", "obama2.jpg")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = load_config()
    env = {**os.environ, "EDGE_FACE_HOST": "127.0.0.1", "EDGE_FACE_PORT": str(port),
           "EDGE_FACE_API_KEYS": API_KEY, "EDGE_FACE_FRS_TOKENS": FRS_TOKEN}
    env.pop("EDGE_FACE_CONFIG", None)
    log = tempfile.TemporaryFile()
    server = subprocess.Popen([sys.executable, "-m", "edge_face.api.server"], env=env, stdout=log, stderr=log)
    try:
        wait_ready(url, server, 180)
        with tempfile.TemporaryDirectory() as tmp:
            fuzz = run_schemathesis(url, args.max_examples, args.seed, Path(tmp))
        alive_after_fuzz = valid_requests_succeed(url, photos)
        cipher = VendorCipher(Config.aes_key, Config.aes_iv)
        cases = hostile.cases((photos / "obama.jpg").read_bytes(), cipher, API_KEY, FRS_TOKEN,
                              config.limits.max_body_bytes)
        hostile_report = hostile.run_all(url, cases, lambda: valid_requests_succeed(url, photos))
        alive_at_end = valid_requests_succeed(url, photos)
        crashed = server.poll() is not None
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    log.seek(0)
    server_log = log.read().decode("utf-8", "replace")
    report = {
        "machine": {"arch": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "schemathesis": fuzz,
        "hostile": hostile_report,
        "total_cases": fuzz["requests"] + hostile_report["cases"],
        "total_5xx": fuzz["server_errors_5xx"] + hostile_report["server_errors_5xx"],
        "server_crashed": crashed,
        "tracebacks_in_server_log": server_log.count("Traceback"),
        "valid_request_after_fuzz": alive_after_fuzz,
        "valid_request_at_end": alive_at_end,
    }
    print(json.dumps(report, indent=1))
    ok = (report["total_5xx"] == 0 and not crashed and alive_at_end and alive_after_fuzz
          and fuzz["exit_code"] == 0 and hostile_report["as_documented"] == hostile_report["cases"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
