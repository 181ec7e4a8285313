"""Video liveness speed of the service's own path (only the cues its fusion weighs or vetoes) against every cue
(what `bench liveness` computes to report them), on the videos of a liveness-dev-layout folder, interleaved per
video in one run. Prints JSON: ms per video-second of each, their ratio, the verdicts (which must agree) and the
CPU flags.

    python -m edge_face_tools.video_speed --data DIR [--limit N]
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from edge_face.config import load_config
from edge_face.runtime.cpu import describe
from edge_face.services import LivenessService, wire_faces
from edge_face_tools.liveness import read_labels


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="a folder with labels.csv (liveness-dev layout)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N videos (0: all)")
    args = ap.parse_args(argv)
    folder = Path(args.data)
    config = load_config()
    limits = replace(config.limits, max_video_seconds=60.0)
    faces = wire_faces(config)
    faces.warm_up()
    paths = {"service": LivenessService(faces, limits), "all_cues": LivenessService(faces, limits, all_cues=True)}
    for service in paths.values():
        service.warm_up()
    elapsed = {name: 0.0 for name in paths}
    seconds = 0.0
    disagree = []
    videos = [r for r in read_labels(folder) if r["kind"] == "video"][: args.limit or None]
    for row in videos:
        data = (folder / row["path"]).read_bytes()
        verdicts = {}
        for name, service in paths.items():
            t0 = time.perf_counter()
            try:
                result = service.detect_video(data)
                verdicts[name], length = result.passed, result.face_seconds
            except Exception as exc:  # noqa: BLE001 - a refused video is a verdict too (4007, 2008)
                verdicts[name], length = type(exc).__name__, 0.0
            elapsed[name] += time.perf_counter() - t0
        seconds += length
        if len(set(map(str, verdicts.values()))) > 1:
            disagree.append(row["path"])
    ms = {name: round(1000 * e / seconds, 1) if seconds else None for name, e in elapsed.items()}
    print(json.dumps({"benchmark": "video_speed", "machine": describe(), "videos": len(videos),
                      "face_seconds": round(seconds, 1), "ms_per_video_second": ms,
                      "all_cues_over_service": round(ms["all_cues"] / ms["service"], 2) if seconds else None,
                      "verdicts_disagree": disagree}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
