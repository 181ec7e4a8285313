"""`edge-face bench http`: endpoint 1.1 under load from several clients, through the real server over HTTP.

The server is started as its own process (`edge-face serve`) as in production; photos are LFW-layout pairs
re-encoded as 640x480 JPEGs and encrypted like a vendor client would.
"""
from __future__ import annotations

import csv
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from edge_face.config import Config
from edge_face.crypto import VendorCipher
from edge_face_tools.server import free_port, wait_ready

PATH = "/identity/image_verification/stateless"


def jpeg_640x480(path: Path) -> bytes:
    """A photo scaled to 640x480 as a quality-90 JPEG: what a webcam client sends."""
    img = cv2.imread(str(path))
    canvas = cv2.resize(img, (640, 480), interpolation=cv2.INTER_LINEAR)
    ok, buf = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return buf.tobytes()


def request_bodies(data: Path, cipher: VendorCipher, count: int) -> list[bytes]:
    """Form bodies of endpoint 1.1 for the first `count` pairs of DIR/pairs.csv, as a vendor client sends them."""
    with open(data / "pairs.csv", newline="") as fh:
        pairs = list(csv.DictReader(fh))[:count]
    return [urllib.parse.urlencode({
        "first_encrypted_image": cipher.encrypt(jpeg_640x480(data / p["path_a"])),
        "second_encrypted_image": cipher.encrypt(jpeg_640x480(data / p["path_b"])),
    }).encode() for p in pairs]


def post(base: str, body: bytes) -> tuple[float, int]:
    req = urllib.request.Request(base + PATH, data=body,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    return (time.perf_counter() - t0) * 1e3, status


def run(data: Path, clients: int = 4, requests: int = 200, config: Config | None = None) -> dict:
    config = config or Config()
    cipher = VendorCipher(config.aes_key, config.aes_iv)
    bodies = request_bodies(data, cipher, min(requests, 100))
    port = free_port()
    env = {**os.environ, "EDGE_FACE_PORT": str(port), "EDGE_FACE_HOST": "127.0.0.1"}
    proc = subprocess.Popen([sys.executable, "-m", "edge_face.cli", "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        for body in bodies[:clients]:  # warm-up
            post(base, body)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(lambda i: post(base, bodies[i % len(bodies)]), range(requests)))
        wall = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lat = np.array([r[0] for r in results])
    codes: dict[str, int] = {}
    for _, status in results:
        codes[str(status)] = codes.get(str(status), 0) + 1
    return {
        "endpoint": PATH, "image": "640x480 JPEG, encrypted, form-urlencoded", "clients": clients,
        "requests": requests, "http_status": codes,
        "latency_ms_p50": float(np.percentile(lat, 50)), "latency_ms_p99": float(np.percentile(lat, 99)),
        "latency_ms_median": statistics.median(lat.tolist()), "requests_per_second": requests / wall,
    }
