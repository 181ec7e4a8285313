"""Does silent liveness hold on other cameras? Each video of a liveness-dev-layout folder is re-recorded in memory
under a camera condition and analysed as an upload by the service's own path; prints JSON with the verdicts that
changed against the original, per condition, and the CPU flags.

Conditions (what kiosk webcams and phones do that the dev videos do not): `small` (240 px high), `dark`
(gamma 2.2 x 0.6 and sensor noise sigma 3), `fps10` (10 frames a second), `hd` (upscaled to 1080p), `blocky`
(every frame JPEG quality 20: a low-quality MJPEG webcam's 8x8 blocks, a periodic grid like a screen's),
`sharpened` (unsharp mask, amount 1, sigma 1.5: a phone's processing), `defocus` (Gaussian blur, sigma 0.4% of
the frame's height), `bright` (gain 1.6, highlights clipped), each encoded MPEG-4 part 2 by OpenCV's
writer into a temporary file that is read back and deleted at once (OpenCV writes only to files); the data
folder's own files are never changed.

    python -m edge_face_tools.liveness_conditions --data DIR [--limit N]
        [--conditions small dark fps10 hd blocky sharpened defocus bright]
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from edge_face.config import load_config
from edge_face.imaging.video import VideoError
from edge_face.liveness.analyse import NoTrackableFace
from edge_face.runtime.cpu import describe
from edge_face.services import LivenessService, wire_faces
from edge_face_tools.liveness import read_labels

CONDITIONS = ("small", "dark", "fps10", "hd", "blocky", "sharpened", "defocus", "bright")


def _read(path: Path) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames, fps


def recorded(frames: list[np.ndarray], fps: float, condition: str, seed: int = 0) -> bytes:
    """The frames as a camera under `condition` would have delivered them, encoded (MPEG-4 part 2)."""
    if condition == "small":
        frames = [cv2.resize(f, (max(2, f.shape[1] * 240 // f.shape[0] // 2 * 2), 240), interpolation=cv2.INTER_AREA)
                  for f in frames]
    elif condition == "dark":
        lut = np.clip(255 * (np.arange(256) / 255.0) ** 2.2 * 0.6, 0, 255).astype(np.uint8)
        rng = np.random.default_rng(seed)
        def sensor(f: np.ndarray) -> np.ndarray:  # grain is mostly luminance: the same on the three channels
            grain = 3.0 * rng.standard_normal(f.shape[:2], dtype=np.float32)[..., None]
            return np.clip(cv2.LUT(f, lut).astype(np.float32) + grain, 0, 255).astype(np.uint8)
        frames = [sensor(f) for f in frames]
    elif condition == "fps10":
        step = fps / 10.0
        if step > 1:
            frames = [frames[int(i * step)] for i in range(int(len(frames) / step))]
            fps = 10.0
    elif condition == "hd":
        size = (1920, 1080) if frames[0].shape[1] >= frames[0].shape[0] else (1080, 1920)
        frames = [cv2.resize(f, size, interpolation=cv2.INTER_CUBIC) for f in frames]
    elif condition == "blocky":  # a webcam's MJPEG at low quality: 8x8 blocks, a periodic grid on every frame
        frames = [cv2.imdecode(cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 20])[1], cv2.IMREAD_COLOR)
                  for f in frames]
    elif condition == "sharpened":  # a phone's strong unsharp mask: halos and boosted fine texture
        frames = [cv2.addWeighted(f, 2.0, cv2.GaussianBlur(f, (0, 0), 1.5), -1.0, 0) for f in frames]
    elif condition == "defocus":  # a lens focused behind the person: blur of 0.4% of the frame's height
        sigma = 0.004 * frames[0].shape[0]
        frames = [cv2.GaussianBlur(f, (0, 0), sigma) for f in frames]
    elif condition == "bright":  # exposure set for a dark room: x1.6, highlights clipped
        frames = [cv2.convertScaleAbs(f, alpha=1.6) for f in frames]
    else:
        raise ValueError(f"unknown condition {condition!r}")
    fd, name = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    try:
        h, w = frames[0].shape[:2]
        writer = cv2.VideoWriter(name, cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
        for f in frames:
            writer.write(f)
        writer.release()
        return Path(name).read_bytes()
    finally:
        os.remove(name)


def _verdict(service: LivenessService, data: bytes) -> dict:
    try:
        res = service.detect_video(data)
        return {"accepted": bool(res.passed), "status": res.status, "decided_by": res.decided_by,
                "score": round(float(res.score), 3)}
    except (VideoError, NoTrackableFace) as exc:
        return {"accepted": False, "status": f"error: {exc}", "decided_by": type(exc).__name__, "score": 0.0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="a folder with labels.csv (liveness-dev layout)")
    ap.add_argument("--conditions", nargs="+", choices=CONDITIONS, default=list(CONDITIONS))
    ap.add_argument("--limit", type=int, default=0, help="only the first N videos (0: all)")
    args = ap.parse_args(argv)
    config = load_config()
    # re-encoded noisy frames make larger files than the originals: the analysis, not the upload limit, is measured
    limits = replace(config.limits, max_video_seconds=60.0, max_video_bytes=1 << 30)
    faces = wire_faces(config)
    faces.warm_up()
    service = LivenessService(faces, limits)
    rows = [r for r in read_labels(args.data) if r["kind"] == "video"]
    rows = rows[:args.limit] if args.limit else rows
    result: dict = {c: {"wrong": 0, "changed": []} for c in ["original", *args.conditions]}
    for r in rows:
        frames, fps = _read(args.data / r["path"])
        if not frames:
            continue
        base = _verdict(service, (args.data / r["path"]).read_bytes())
        result["original"]["wrong"] += base["accepted"] != r["live"]
        for condition in args.conditions:
            got = _verdict(service, recorded(frames, fps, condition))
            result[condition]["wrong"] += got["accepted"] != r["live"]
            if got["accepted"] != base["accepted"]:
                result[condition]["changed"].append({"path": r["path"], "label": r["label"], "original": base,
                                                     "now": got})
    print(json.dumps({"benchmark": "liveness_conditions", "machine": describe(), "videos": len(rows),
                      "result": result}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
