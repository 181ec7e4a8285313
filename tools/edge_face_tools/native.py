"""The native core and its reference (OpenCV + NumPy) side by side in one run, as ratios (JSON).

Usage: python -m edge_face_tools.native [--data DIR] [--faces 60] [--requests 80] [--skip-request]

- preprocessing: real faces (the main face of the first photos of DIR/images, or of the test fixtures), from the
  decoded photo and its landmarks to the input tensors of the variant's embedders: alignment matrix, warp,
  colour order, normalisation, mirror slot. Reference = what runs with EDGE_FACE_NATIVE=0 (cv2.warpAffine on the
  BGR photo + NumPy per model). Also for a camera frame (BGRX, padded rows: the reference first makes it BGR, as
  cv2 needs) and for quantized int8 input tensors (NPU models).
- letterbox: the detector input from photos of several sizes (copy, INTER_LINEAR up, INTER_AREA down).
- scoring: the cosine matrix of 64 x 64 fused embeddings (320-d) against the naive NumPy loop and against the
  NumPy reference (normalise + matmul), with the bytes it reads per second beside the machine's memory bandwidth
  (one-thread copy of 256 MiB); the calibrated-score map.
- request_1_1: endpoint 1.1 in process (Flask test client: form decoding, decryption, JPEG decoding, the
  service), 640x480 JPEG pairs from DIR/pairs.csv, native and reference requests interleaved (ABBA) so that load
  from other processes falls on both alike.

Times are per call, the minimum over repeats (the cost without interference) unless said otherwise; `ratio` is
reference / native. Timing uses time.perf_counter; the machine's load average is reported at start and end.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from edge_face import native
from edge_face.models.contract import InputSpec
from edge_face.native import reference
from edge_face_tools import fixture_photos

# The checkout (the tools are installed editable): --data defaults to its sibling shared/data/lfw-dev when present.
CHECKOUT = Path(__file__).resolve().parents[2]


def best_us(fn, number: int, repeat: int = 5) -> float:
    """Minimum over `repeat` runs of the mean time of `number` calls, in microseconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number * 1e6)
    return min(times)


def paired(fn_native, fn_reference, number: int, repeat: int = 5) -> dict:
    """Native and reference alternately (the order flips every round): min over rounds of each."""
    nat, ref = [], []
    for r in range(repeat):
        for which in ((0, 1) if r % 2 == 0 else (1, 0)):
            fn = fn_native if which == 0 else fn_reference
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            (nat if which == 0 else ref).append((time.perf_counter() - t0) / number * 1e6)
    return {"native_us": round(min(nat), 2), "reference_us": round(min(ref), 2), "ratio": round(min(ref) / min(nat), 2)}


def memory_bandwidth_gbps() -> float:
    """One thread copying 256 MiB: bytes read + written per second."""
    src = np.ones(1 << 26, np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    best = min(_timed(lambda: np.copyto(dst, src)) for _ in range(5))
    return 2 * src.nbytes / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def photo_paths(data: Path | None, count: int) -> list[Path]:
    if data and (data / "images").is_dir():
        from edge_face_tools.faces import list_images

        return [data / p for p in list_images(data / "images")[: count * 2]]
    return sorted(p for p in fixture_photos.require("obama.jpg").iterdir() if p.suffix.lower() in (".jpg", ".png"))


def padded_bgrx(bgr: np.ndarray) -> np.ndarray:
    """The photo as picamera2 gives an XRGB8888 frame: B, G, R, X bytes, rows padded to a 64-byte stride."""
    h, w = bgr.shape[:2]
    stride = (w * 4 + 63) // 64 * 64 + 64
    buf = np.full(h * stride, 255, np.uint8)
    frame = np.lib.stride_tricks.as_strided(buf, (h, w, 4), (stride, 4, 1))
    frame[:, :, :3] = bgr
    return frame


def preprocessing(service, paths: list[Path], faces: int) -> dict:
    from edge_face.imaging import decode_image
    from edge_face.pipeline.align import alignment_matrix

    specs = [e.spec for e, _ in service.embedder.parts]
    int8_specs = [InputSpec(s.height, s.width, s.order, s.mean, s.std, "int8", scale=1 / 128, zero_point=0,
                            nchw=s.nchw, mirror=s.mirror) for s in specs]
    for s in specs + int8_specs:
        s.lut  # built once per model at start-up in the service too
    samples = []
    for p in paths:
        img = decode_image(p.read_bytes())
        found = service.detector.detect(img)
        if found:
            samples.append((img, found[0].landmarks))
        if len(samples) == faces:
            break
    rows: dict[str, list[dict]] = {"bgr_photo": [], "bgr_photo_warp_only": [], "bgrx_camera_frame": [],
                                   "int8_input": []}
    for img, marks in samples:
        frame = padded_bgrx(img)
        m = alignment_matrix(marks)

        def nat(frame=img, layout="bgr", specs=specs):
            with native.use_native(True):
                return native.face_tensors(frame, layout, alignment_matrix(marks), specs)

        def ref(frame=img, layout="bgr", specs=specs):
            with native.use_native(False):
                return native.face_tensors(frame, layout, alignment_matrix(marks), specs)

        for a, b in zip(nat(), ref()):
            assert np.array_equal(a, b), "native and reference tensors differ"
        rows["bgr_photo"].append(paired(nat, ref, 20))
        rows["bgr_photo_warp_only"].append(paired(lambda: _face(True, img, "bgr", m, specs),
                                                  lambda: _face(False, img, "bgr", m, specs), 20))
        rows["bgrx_camera_frame"].append(paired(lambda: nat(frame, "bgrx"), lambda: ref(frame, "bgrx"), 20))
        rows["int8_input"].append(paired(lambda: nat(specs=int8_specs), lambda: ref(specs=int8_specs), 20))
    out = {"faces": len(samples), "models": [f"{e.name} {e.spec.shape} {e.spec.dtype}" for e, _ in service.embedder.parts],
           "note": "per face: alignment matrix + every embedder's input tensor (warp_only: without the matrix); "
                   "median over faces of the per-face minimum"}
    for key, vals in rows.items():
        nat_us = statistics.median(v["native_us"] for v in vals)
        ref_us = statistics.median(v["reference_us"] for v in vals)
        out[key] = {"native_us": round(nat_us, 1), "reference_us": round(ref_us, 1), "ratio": round(ref_us / nat_us, 2),
                    "ratio_min_over_faces": round(min(v["ratio"] for v in vals), 2)}
    return out


def _face(flag: bool, frame, layout, m, specs):
    with native.use_native(flag):
        return native.face_tensors(frame, layout, m, specs)


def letterbox(service, photo: np.ndarray) -> dict:
    out = {}
    for (w, h) in [(640, 480), (250, 250), (1280, 960), (1920, 1080), (2028, 1520), (4000, 3000), (100, 120)]:
        frame = cv2.resize(photo, (w, h), interpolation=cv2.INTER_CUBIC)

        def nat():
            with native.use_native(True):
                return service.detector._input(frame)[0]

        def ref():
            with native.use_native(False):
                return service.detector._input(frame)[0]

        assert np.array_equal(nat(), ref())
        n = max(2, int(2e6 / (w * h)))
        key = f"{w}x{h}"
        out[key] = paired(nat, ref, n)
        out[key]["kernel"] = "copy" if max(w, h) <= 640 and max(w, h) >= 160 else ("INTER_LINEAR" if max(w, h) < 160 else "INTER_AREA")
    return out


def scoring(bandwidth: float) -> dict:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(64, 320)).astype(np.float32)
    b = rng.normal(size=(64, 320)).astype(np.float32)

    def naive():
        out = np.empty((len(a), len(b)), np.float32)
        for i in range(len(a)):
            for j in range(len(b)):
                out[i, j] = np.dot(a[i], b[j]) / (np.linalg.norm(a[i]) * np.linalg.norm(b[j]))
        return out

    got = native._native.cosine_matrix(a, b)
    assert np.abs(got - reference.cosine_matrix(a, b)).max() <= 1e-5 and np.abs(got - naive()).max() <= 1e-5
    nat_us = best_us(lambda: native._native.cosine_matrix(a, b), 200)
    ref_us = best_us(lambda: reference.cosine_matrix(a, b), 200)
    naive_us = best_us(naive, 2, 3)
    touched = a.nbytes + b.nbytes + 64 * 64 * 4
    gbps = touched / (nat_us * 1e-6) / 1e9
    small = {}
    for n, m in ((1, 1), (4, 4)):
        x, y = a[:n], b[:m]
        small[f"{n}x{m}"] = paired(lambda: native._native.cosine_matrix(x, y), lambda: reference.cosine_matrix(x, y), 500)
    knots_x = np.array([-1.0, -0.43, 0.03, 0.1, 0.2, 0.35, 0.6, 0.8, 1.0])
    knots_y = np.array([0.0, 0.3, 0.325, 0.4, 0.5, 0.7, 0.9, 0.95, 1.0])
    c = got.astype(np.float64)
    score_map = paired(lambda: native._native.interp(c, knots_x, knots_y), lambda: np.interp(c, knots_x, knots_y), 500)
    return {
        "matrix_64x64x320": {"native_us": round(nat_us, 2), "reference_numpy_us": round(ref_us, 2),
                             "naive_numpy_loop_us": round(naive_us, 1),
                             "ratio_vs_naive_loop": round(naive_us / nat_us, 1),
                             "ratio_vs_reference": round(ref_us / nat_us, 2),
                             "bytes_touched": touched, "gbps": round(gbps, 2),
                             "fraction_of_memory_bandwidth": round(gbps / bandwidth, 3)},
        "matrix_small": small,
        "calibrated_map_64x64": score_map,
    }


def request_1_1(service, data: Path, requests: int) -> dict:
    from edge_face.api.app import create_app
    from edge_face_tools.http import PATH, request_bodies
    from edge_face.config import Config
    from edge_face.crypto import VendorCipher

    config = Config()
    app = create_app(config, service)
    client = app.test_client()
    bodies = request_bodies(data, VendorCipher(config.aes_key, config.aes_iv), min(requests, 40))

    def post(body: bytes) -> tuple[float, float, float | None]:
        c0, t0 = time.process_time(), time.perf_counter()
        resp = client.post(PATH, data=body, content_type="application/x-www-form-urlencoded")
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert resp.status_code == 200, resp.status_code
        return wall * 1e3, cpu * 1e3, resp.get_json().get("verification_score")

    before = native.enabled()
    wall: dict[bool, list[float]] = {True: [], False: []}
    cpu: dict[bool, list[float]] = {True: [], False: []}
    scores: dict[bool, list[float | None]] = {True: [], False: []}
    try:
        for flag in (True, False):  # warm-up
            native.set_enabled(flag)
            for body in bodies[:3]:
                post(body)
        for i in range(requests):
            body = bodies[i % len(bodies)]
            for flag in ((True, False) if i % 2 == 0 else (False, True)):
                native.set_enabled(flag)
                w, c, score = post(body)
                wall[flag].append(w)
                cpu[flag].append(c)
                scores[flag].append(score)
    finally:
        native.set_enabled(before)

    def summary(t: dict[bool, list[float]]) -> dict:
        diff = np.array(t[False]) - np.array(t[True])
        half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
        return {"native_ms_median": round(statistics.median(t[True]), 2),
                "reference_ms_median": round(statistics.median(t[False]), 2),
                "ratio_of_medians": round(statistics.median(t[False]) / statistics.median(t[True]), 4),
                "saved_ms_mean": round(float(diff.mean()), 3),
                "saved_ms_95ci": [round(float(diff.mean() - half), 3), round(float(diff.mean() + half), 3)],
                "saved_ms_median_of_pairs": round(float(np.median(diff)), 3),
                "pairs_where_native_was_faster": round(float((diff > 0).mean()), 3)}

    score_diff = max((abs(a - b) for a, b in zip(scores[True], scores[False]) if a is not None and b is not None),
                     default=0.0)
    return {"requests_each": len(wall[True]), "image": "640x480 JPEG pairs, encrypted, form-urlencoded, in-process",
            "wall": summary(wall), "process_cpu": summary(cpu), "max_score_difference": score_diff}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = CHECKOUT.parent / "shared" / "data" / "lfw-dev"
    p.add_argument("--data", default=str(default) if default.is_dir() else None)
    p.add_argument("--faces", type=int, default=60)
    p.add_argument("--requests", type=int, default=80)
    p.add_argument("--variant", default=None)
    p.add_argument("--skip-request", action="store_true")
    a = p.parse_args()
    if not native.AVAILABLE:
        raise SystemExit("edge_face._native is not built (pip install .)")
    from edge_face.config import Config
    from edge_face.imaging import decode_image
    from edge_face.services import wire_faces

    load_start = os.getloadavg()
    config = Config()
    service = wire_faces(config, variant=a.variant)
    service.warm_up()
    data = Path(a.data) if a.data else None
    paths = photo_paths(data, a.faces)
    bandwidth = memory_bandwidth_gbps()
    result = {
        "benchmark": "native",
        "machine": {"arch": platform.machine(), "cpus": os.cpu_count(), "kernels": native._native.kernel_isa(),
                    "opencv": cv2.__version__, "opencv_threads": cv2.getNumThreads(), "numpy": np.__version__,
                    "memory_bandwidth_gbps_one_thread": round(bandwidth, 2),
                    "load_average_start": [round(v, 2) for v in load_start]},
        "variant": service.variant["id"],
        "preprocessing": preprocessing(service, paths, a.faces),
        "letterbox": letterbox(service, decode_image(paths[0].read_bytes())),
        "scoring": scoring(bandwidth),
    }
    if not a.skip_request and data and (data / "pairs.csv").is_file():
        result["request_1_1"] = request_1_1(service, data, a.requests)
    result["machine"]["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    pre, sc = result["preprocessing"]["bgr_photo"], result["scoring"]["matrix_64x64x320"]
    targets = {
        "preprocessing_per_face_ratio>=2": {"value": pre["ratio"], "met": pre["ratio"] >= 2},
        "scoring_64x64_>=50%_bandwidth_or_>=5x_naive_loop": {
            "value": {"fraction_of_bandwidth": sc["fraction_of_memory_bandwidth"],
                      "ratio_vs_naive_loop": sc["ratio_vs_naive_loop"]},
            "met": sc["fraction_of_memory_bandwidth"] >= 0.5 or sc["ratio_vs_naive_loop"] >= 5},
    }
    if "request_1_1" in result:
        r = result["request_1_1"]
        targets["request_1_1_faster"] = {
            "value": {k: {"saved_ms_mean": r[k]["saved_ms_mean"], "95ci": r[k]["saved_ms_95ci"]}
                      for k in ("wall", "process_cpu")},
            "met": r["wall"]["saved_ms_95ci"][0] > 0 or r["process_cpu"]["saved_ms_95ci"][0] > 0}
    result["targets"] = targets
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
