"""Video liveness speed (issues 13 and 16), on the videos of a liveness-dev-layout folder. Prints JSON with the CPU
flags.

    python -m edge_face_tools.video_speed --data DIR [--limit N] [--baseline CHECKOUT]

Without --baseline: the service's own path (only the cues its fusion weighs or vetoes; what `bench liveness` runs)
against every cue (what `bench liveness --all-cues` computes to report them), interleaved per video in one process.

With --baseline (a checkout with its native core built in place, e.g. `git worktree add /tmp/base 8dfe68a` then
`python setup.py build_ext --inplace` there): this checkout's service path against the baseline's, each in a worker
process of its own, the videos handed to them alternately (ABBA), so that load from other processes falls on both
alike; the verdicts must agree.

Both modes also time a 5-s 1280x720 upload (the issue's figure: <= 0.7 s), made from the folder's first live video
of 5 s or more, and report, besides wall time, the CPU time of the whole process and of the analysing thread alone:
decoding and the optical flow run on threads of their own, so on an idle 2-core machine the wall time is about the
larger of the analysing thread's CPU and half the process's; on a loaded one the CPU figures are the ones to read.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2

from edge_face.config import load_config
from edge_face.runtime.cpu import describe
from edge_face_tools.liveness import read_labels

UPLOAD_SIZE, UPLOAD_SECONDS = (1280, 720), 5.0


def upload_720p(folder: Path) -> bytes:
    """A 5-s 1280x720 MPEG-4 upload made from the first live video of at least 5 s (scaled and centre-cropped)."""
    for row in read_labels(folder):
        if row["kind"] != "video" or row["label"] != "live":
            continue
        cap = cv2.VideoCapture(str(folder / row["path"]))
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        frames = []
        while len(frames) < int(UPLOAD_SECONDS * fps):
            ok, bgr = cap.read()
            if not ok:
                break
            h, w = bgr.shape[:2]
            k = max(UPLOAD_SIZE[0] / w, UPLOAD_SIZE[1] / h)
            big = cv2.resize(bgr, (round(w * k), round(h * k)), interpolation=cv2.INTER_LINEAR)
            top, left = (big.shape[0] - UPLOAD_SIZE[1]) // 2, (big.shape[1] - UPLOAD_SIZE[0]) // 2
            frames.append(big[top:top + UPLOAD_SIZE[1], left:left + UPLOAD_SIZE[0]])
        cap.release()
        if len(frames) < int(UPLOAD_SECONDS * fps):
            continue
        with tempfile.TemporaryDirectory() as tmp:  # a benchmark's own synthetic clip, not a user's upload
            path = Path(tmp) / "upload.mp4"
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, UPLOAD_SIZE)
            for bgr in frames:
                writer.write(bgr)
            writer.release()
            return path.read_bytes()
    raise SystemExit(f"no live video of {UPLOAD_SECONDS:g} s or more in {folder}")


def _services(all_cues: bool):
    """(this checkout's liveness service[, every cue]); the older layout of the issue's baseline is understood."""
    config = load_config()
    limits = replace(config.limits, max_video_seconds=60.0)
    try:
        from edge_face.services import LivenessService, wire_faces
        faces = wire_faces(config)
        make = (lambda every: LivenessService(faces, limits, all_cues=every))
    except ImportError:  # the checkout the issues were measured on (8dfe68a)
        from edge_face.liveness_service import LivenessService
        from edge_face.service import FaceService
        faces = FaceService.from_config(config)
        make = (lambda every: LivenessService(faces, limits))
    faces.warm_up()
    paths = {"service": make(False)}
    if all_cues:
        paths["all_cues"] = make(True)
    for service in paths.values():
        service.warm_up()
    return paths


def timed(service, data: bytes) -> dict:
    """One analysis: wall and CPU seconds (process, and this thread alone), the verdict and its face-seconds."""
    t0, c0, m0 = time.perf_counter(), time.process_time(), time.thread_time()
    try:
        result = service.detect_video(data)
        verdict, seconds = [result.passed, result.status], result.face_seconds
    except Exception as exc:  # noqa: BLE001 - a refused video is a verdict too (4007, 2008)
        verdict, seconds = type(exc).__name__, 0.0
    return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "thread": time.thread_time() - m0,
            "verdict": verdict, "seconds": seconds}


def worker() -> int:
    """Reads video paths on stdin (or `upload`), answers one JSON line each."""
    service = _services(False)["service"]
    print(json.dumps({"ready": True}), flush=True)
    upload: bytes | None = None
    for line in sys.stdin:
        name = line.strip()
        if name.startswith("upload:"):
            upload = upload or upload_720p(Path(name[len("upload:"):]))
            data = upload
        else:
            data = Path(name).read_bytes()
        print(json.dumps(timed(service, data)), flush=True)
    return 0


def summary(runs: list[dict]) -> dict:
    seconds = sum(r["seconds"] for r in runs)
    per = (lambda key: round(1000 * sum(r[key] for r in runs) / seconds, 1) if seconds else None)
    return {"wall_ms_per_video_second": per("wall"), "process_cpu_ms_per_video_second": per("cpu"),
            "analysing_thread_cpu_ms_per_video_second": per("thread")}


def upload_summary(runs: list[dict]) -> dict:
    return {f"upload_720p_5s_{k}_s": round(statistics.median(r[k] for r in runs), 3) for k in ("wall", "cpu", "thread")}


class Worker:
    def __init__(self, checkout: Path) -> None:
        tools = Path(__file__).resolve().parents[1]
        env = {**os.environ, "PYTHONPATH": f"{checkout}{os.pathsep}{tools}"}
        self.proc = subprocess.Popen([sys.executable, "-m", "edge_face_tools.video_speed", "--worker"], cwd=checkout,
                                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = self.proc.stdout.readline()
        if not ready:
            raise SystemExit(f"the worker for {checkout} did not start")

    def ask(self, line: str) -> dict:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def against_baseline(folder: Path, videos: list[dict], baseline: Path, upload_runs: int) -> dict:
    here = Path(__file__).resolve().parents[2]
    workers = {"candidate": Worker(here), "baseline": Worker(baseline)}
    runs: dict[str, list[dict]] = {name: [] for name in workers}
    uploads: dict[str, list[dict]] = {name: [] for name in workers}
    disagree = []
    try:
        for i, row in enumerate(videos):
            order = list(workers) if i % 2 == 0 else list(workers)[::-1]
            got = {name: workers[name].ask(str(folder / row["path"])) for name in order}
            for name, r in got.items():
                runs[name].append(r)
            if got["candidate"]["verdict"] != got["baseline"]["verdict"]:
                disagree.append({"video": row["path"], **{n: got[n]["verdict"] for n in got}})
        for i in range(upload_runs):
            for name in (list(workers) if i % 2 == 0 else list(workers)[::-1]):
                uploads[name].append(workers[name].ask(f"upload:{folder}"))
    finally:
        for w in workers.values():
            w.close()
    out = {name: {**summary(runs[name]), **upload_summary(uploads[name])} for name in workers}
    c, b = out["candidate"], out["baseline"]
    return {"baseline": str(baseline), **out,
            "baseline_over_candidate_wall": round(b["wall_ms_per_video_second"] / c["wall_ms_per_video_second"], 2),
            "verdicts_disagree": disagree}


def in_process(folder: Path, videos: list[dict], upload_runs: int) -> dict:
    paths = _services(True)
    runs: dict[str, list[dict]] = {name: [] for name in paths}
    disagree = []
    for row in videos:
        data = (folder / row["path"]).read_bytes()
        got = {name: timed(service, data) for name, service in paths.items()}
        for name, r in got.items():
            runs[name].append(r)
        if len({json.dumps(r["verdict"]) for r in got.values()}) > 1:
            disagree.append(row["path"])
    upload = upload_720p(folder)
    up = [timed(paths["service"], upload) for _ in range(upload_runs)]
    out = {name: summary(r) for name, r in runs.items()}
    out["service"].update(upload_summary(up))
    return {**out, "all_cues_over_service": round(out["all_cues"]["wall_ms_per_video_second"]
                                                  / out["service"]["wall_ms_per_video_second"], 2),
            "verdicts_disagree": disagree}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="a folder with labels.csv (liveness-dev layout)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N videos (0: all)")
    ap.add_argument("--baseline", type=Path, help="a checkout to compare against, in worker processes (ABBA)")
    ap.add_argument("--upload-runs", type=int, default=5, help="timings of the 5-s 720p upload (median)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker()
    if not args.data:
        ap.error("--data is required")
    folder = Path(args.data)
    videos = [r for r in read_labels(folder) if r["kind"] == "video"][: args.limit or None]
    result = (against_baseline(folder, videos, args.baseline.resolve(), args.upload_runs) if args.baseline
              else in_process(folder, videos, args.upload_runs))
    print(json.dumps({"benchmark": "video_speed", "machine": describe(), "load_average": os.getloadavg(),
                      "videos": len(videos), **result}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
