"""Short clips of real people: every window of `--seconds` (default 3 s, every `--step` s) of each live video of a
liveness-dev-layout folder, analysed as an upload of that clip would be (the service's own sampling, analyser and
fusion). Issue 13 asks that a live person visible for 2 s or more never gets 4007; a kiosk's or an app's clips are
short, and a cue that needs a long video shows here. Prints JSON: windows, rejected ones by deciding cue (and
`no_face` for 4007), each rejected window with its cues, and the CPU flags.

    python -m edge_face_tools.liveness_windows --data DIR [--seconds 3] [--step 1.5] [--label live] [--fixed-camera]

The frames of a video are decoded once; a window holds references to the samples it covers, so memory stays at
about `--seconds` of samples whatever the video's length.
"""
from __future__ import annotations

import argparse
import collections
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from edge_face.config import load_config
from edge_face.imaging.video import VideoError, VideoReader
from edge_face.liveness.analyse import NoTrackableFace
from edge_face.runtime.cpu import describe
from edge_face.services import LivenessService, wire_faces
from edge_face.services.liveness import SAMPLE_FPS
from edge_face_tools.liveness import read_labels


def windows(samples, seconds: float, step: float):
    """(start, [(t - start, frame), ...]) for every window [start, start + seconds] of the (t, frame) samples, a
    window given out as soon as a sample passes its end (or the samples end). Each starts at a multiple of `step`."""
    open_: dict[float, list] = {}
    next_start = 0.0
    last = None
    for t, frame in samples:
        while next_start <= t:
            open_[next_start] = []
            next_start = round(next_start + step, 6)
        for start in list(open_):
            if t > start + seconds:
                yield start, open_.pop(start)
            else:
                open_[start].append((t - start, frame))
        last = t
    for start, held in open_.items():  # the video ended: only windows that lasted their whole length
        if last is not None and last >= start + seconds - 1.5 / SAMPLE_FPS:
            yield start, held


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="a folder with labels.csv (liveness-dev layout)")
    ap.add_argument("--seconds", type=float, default=3.0, help="window length")
    ap.add_argument("--step", type=float, default=1.5, help="seconds between window starts")
    ap.add_argument("--label", default="live", help="which videos: live (default) or spoof")
    ap.add_argument("--fixed-camera", action="store_true", help="read the clips as the kiosk's own camera's")
    ap.add_argument("--limit", type=int, help="only the first N videos")
    args = ap.parse_args(argv)
    config = load_config()
    limits = replace(config.limits, max_video_seconds=600.0)
    service = LivenessService(wire_faces(config), limits)
    service.warm_up()
    rows = [r for r in read_labels(args.data) if r["kind"] == "video" and r["label"] == args.label][:args.limit]
    tally: collections.Counter = collections.Counter()
    rejected = []
    for r in rows:
        try:
            samples = VideoReader((args.data / r["path"]).read_bytes(), limits).frames(SAMPLE_FPS)
            for start, clip in windows(samples, args.seconds, args.step):
                try:
                    res = service.analyser.analyse_frames(iter(clip), fixed_camera=args.fixed_camera)
                    passed, by, cues = res.passed, res.decided_by, res.cues
                except NoTrackableFace:
                    passed, by, cues = False, "no_face", {}
                tally["windows"] += 1
                if passed != (args.label == "live"):
                    tally[by] += 1
                    rejected.append({"path": r["path"], "start": start, "decided_by": by,
                                     "cues": {k: round(float(v), 4) for k, v in cues.items() if v is not None
                                              and np.isfinite(v)}})
        except VideoError as exc:
            tally["unreadable"] += 1
            rejected.append({"path": r["path"], "start": None, "decided_by": f"unreadable: {exc}"})
    result = {"videos": len(rows), "windows": tally.pop("windows", 0), "seconds": args.seconds, "step": args.step,
              "label": args.label, "fixed_camera": args.fixed_camera, "wrong": sum(tally.values()),
              "wrong_by": dict(tally)}
    print(json.dumps({"benchmark": "liveness_windows", "machine": describe(), "result": result, "wrong": rejected}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
