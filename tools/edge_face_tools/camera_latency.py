"""How long a person waits for the camera session's verdict after its last frame (issue 13: <= 300 ms), on real
sessions: each video of a liveness-dev-layout folder played as the camera in real time (camera.source = "file"),
through the service's own session (the analysis runs while the frames arrive; what is left at the end is the
flow thread's backlog, the cues, the fusion and the package's seal). Prints JSON with the CPU flags.

    python -m edge_face_tools.camera_latency --data DIR [--limit 12] [--seconds 2.5]
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path

from edge_face.config import load_config
from edge_face.liveness.analyse import NoTrackableFace
from edge_face.runtime.cpu import describe
from edge_face.services import LivenessService, wire_faces
from edge_face.services.camera import CameraLivenessService
from edge_face_tools.liveness import read_labels


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="a folder with labels.csv (liveness-dev layout)")
    ap.add_argument("--limit", type=int, default=12, help="videos to play, alternating live and spoof")
    ap.add_argument("--seconds", type=float, default=None, help="session length (default: camera.session_seconds)")
    args = ap.parse_args(argv)
    config = load_config()
    faces = wire_faces(config)
    faces.warm_up()
    liveness = LivenessService(faces, config.limits)
    liveness.warm_up()
    rows = [r for r in read_labels(args.data) if r["kind"] == "video"]
    live, spoof = [r for r in rows if r["live"]], [r for r in rows if not r["live"]]
    picked = [r for pair in zip(live, spoof) for r in pair] + live[len(spoof):] + spoof[len(live):]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in picked[:args.limit]:
            cam = replace(config.camera, source="file", path=str(args.data / r["path"]), speed=1.0, lock_dir=tmp,
                          session_seconds=args.seconds or config.camera.session_seconds)
            service = CameraLivenessService.from_config(replace(config, camera=cam, state_dir=tmp))
            try:
                session = service.session(liveness)
                runs.append({"path": r["path"], "label": r["label"], "passed": session.liveness.passed,
                             "decided_by": session.liveness.decided_by,
                             "after_last_frame_ms": round(session.after_last_frame * 1000, 1)})
            except NoTrackableFace:
                runs.append({"path": r["path"], "label": r["label"], "passed": False, "decided_by": "no_face"})
            finally:
                if service.owner is not None:
                    service.owner.close()
    waits = sorted(x["after_last_frame_ms"] for x in runs if "after_last_frame_ms" in x)
    summary = {"sessions": len(runs), "measured": len(waits),
               "median_ms": round(statistics.median(waits), 1) if waits else None,
               "max_ms": waits[-1] if waits else None, "target_ms": 300}
    print(json.dumps({"benchmark": "camera_latency", "machine": describe(), "result": summary, "runs": runs}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
