"""Endpoint 1.1 through real servers over HTTP: this checkout against a baseline checkout, interleaved in one run.

Usage: PYTHONPATH=tools python -m edge_face_tools.throughput --data /work/shared/data/lfw-dev \
           --baseline /tmp/speed-base [--clients 1 4] [--requests 120] [--rounds 2] [--env KEY=VALUE ...]

Why another harness beside `edge-face bench http`: on a shared machine the wall-clock figures of one run say as
much about the neighbours as about us, so this one (a) alternates baseline and candidate servers round by round
(ABBA), so that load from other processes falls on both alike, and (b) reports, besides requests/s and p50, the
server process's own CPU time per request (user + system, from /proc): cores / CPU-per-request is the throughput
the same cores give when nothing else runs, and spinning or oversubscribed threads show up there. The CPU flags
are printed: int8 speed depends on AVX-512 VNNI, and a machine without it can only partly be emulated here.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from edge_face_tools.http import post, request_bodies
from edge_face_tools.server import free_port, wait_ready
from edge_face.config import Config
from edge_face.crypto import VendorCipher
from edge_face.runtime.cpu import cpu_flags


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def one_run(source: Path, bodies: list[bytes], clients: int, requests: int, env: dict[str, str]) -> dict:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "edge_face.cli", "serve"], cwd="/tmp",
                            env={**os.environ, **env, "PYTHONPATH": str(source), "EDGE_FACE_PORT": str(port),
                                 "EDGE_FACE_HOST": "127.0.0.1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        for body in bodies[:max(4, clients)]:  # warm-up: every lane's interpreters made
            post(base, body)
        cpu0, t0 = process_cpu_seconds(proc.pid), time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(lambda i: post(base, bodies[i % len(bodies)]), range(requests)))
        wall, cpu = time.perf_counter() - t0, process_cpu_seconds(proc.pid) - cpu0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lat = np.array([r[0] for r in results])
    return {"ok": sum(1 for r in results if r[1] == 200), "p50_ms": float(np.percentile(lat, 50)),
            "rps": requests / wall, "server_cpu_ms_per_request": cpu / requests * 1e3}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--baseline", required=True, type=Path, help="a checkout of the code to compare against")
    p.add_argument("--candidate", type=Path, default=Path(__file__).resolve().parents[2])
    p.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    p.add_argument("--requests", type=int, default=120)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--env", nargs="*", default=[], help="KEY=VALUE for the candidate server only")
    a = p.parse_args()
    config = Config()
    bodies = request_bodies(a.data, VendorCipher(config.aes_key, config.aes_iv), min(a.requests, 100))
    extra = dict(kv.split("=", 1) for kv in a.env)
    runs: dict[str, list[dict]] = {}
    for r in range(a.rounds):
        order = [("baseline", a.baseline, {}), ("candidate", a.candidate, extra)]
        for name, source, env in order if r % 2 == 0 else order[::-1]:
            for clients in a.clients:
                runs.setdefault(f"{name}/{clients}", []).append(one_run(source, bodies, clients, a.requests, env))
    summary = {key: {m: round(statistics.median(r[m] for r in rs), 2) for m in rs[0]} for key, rs in runs.items()}
    ratios = {}
    for clients in a.clients:
        b, c = summary[f"baseline/{clients}"], summary[f"candidate/{clients}"]
        ratios[f"{clients}_clients"] = {
            "rps": round(c["rps"] / b["rps"], 2), "p50": round(c["p50_ms"] / b["p50_ms"], 2),
            "capacity_from_cpu": round(b["server_cpu_ms_per_request"] / c["server_cpu_ms_per_request"], 2)}
    print(json.dumps({"cpu_flags": cpu_flags(), "cores": len(os.sched_getaffinity(0)),
                      "load_average": os.getloadavg(), "candidate_env": extra, "median_of_rounds": summary,
                      "candidate_over_baseline": ratios, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
