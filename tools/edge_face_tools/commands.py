"""`edge-face calibrate | fit-occlusion | bench`: edge_face.cli parses these verbs and flags and calls the functions
here, so the one `edge-face` command keeps them while their code stays out of the runtime package."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge_face.config import Config, load_config
from edge_face.runtime.cpu import describe
from edge_face.services import wire_faces
from edge_face.services.faces import FaceService


def machine() -> dict:
    """What the figures were measured on (every JSON report carries it), CPU flags included."""
    return describe()


def _warm_service(config: Config) -> FaceService:
    """The configured face service, warmed (the benchmarks time requests, not XNNPACK's set-up)."""
    service = wire_faces(config)
    service.warm_up()
    return service


def calibrate(args: argparse.Namespace) -> int:
    from edge_face.backends import CpuBackend
    from edge_face.runtime import plan
    from edge_face_tools import calibrate as calibration

    config = load_config(args.config)
    variant = args.variant or config.model_variant
    service = wire_faces(config, variant=variant, calibration=calibration.identity_calibration(),
                         backend=CpuBackend(plan(config)[1]))
    fitted = calibration.fit(Path(args.data), service, progress=not args.json)
    if args.write:
        calibration.write(Path(config.models_dir) / "verification" / f"{variant}.json", fitted)
    print(json.dumps({"machine": machine(), **fitted}, indent=2))
    return 0


def fit_occlusion(args: argparse.Namespace) -> int:
    from edge_face_tools import occlusion

    config = load_config(args.config)
    service = _warm_service(config)
    fitted = occlusion.fit(Path(args.data), service, limit=args.limit, progress=not args.json)
    if args.write:
        occlusion.write(Path(config.models_dir) / "quality" / "quality.json", fitted)
    print(json.dumps({"machine": machine(), "fit": fitted["fit"], "sharpness": fitted["sharpness"],
                      "thresholds": fitted["occlusion"]["thresholds"]}, indent=2))
    return 0


def bench(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    service = _warm_service(config) if args.which in ("lfw", "detect", "occlusion", "pose", "liveness") else None
    if args.which == "lfw":
        from edge_face_tools import lfw

        result = lfw.run(Path(args.data), service, far_over_all=not args.pairs_only, progress=not args.json)
        if args.peer:
            from edge_face_tools import peer

            result = {"edge_face": result, "peer": peer.run_lfw(args.peer, Path(args.data))}
    elif args.which == "detect":
        from edge_face_tools import detect

        result = detect.run(Path(args.data), service)
    elif args.which in ("occlusion", "pose"):
        from edge_face_tools import occlusion, pose

        result = (occlusion if args.which == "occlusion" else pose).run(Path(args.data), service, limit=args.limit,
                                                                        progress=not args.json)
    elif args.which == "liveness":
        from dataclasses import replace

        from edge_face.services import LivenessService
        from edge_face_tools import liveness

        # The service refuses videos over limits.max_video_seconds (30 s); the benchmark looks at longer dev clips
        # too (--max-video-seconds), and says which limit it used.
        limits = replace(config.limits, max_video_seconds=args.max_video_seconds)
        # The service's own cues by default, so the time per video-second is the product's; every cue for the
        # research view (--all-cues) and for a fit, which needs them all.
        all_cues = bool(args.all_cues or args.fit)
        result = liveness.run(Path(args.data), LivenessService(service, limits, all_cues=all_cues),
                              progress=not args.json, fit=Path(args.fit) if args.fit else None,
                              fixed_camera=args.fixed_camera, turn=args.turn)
        result["max_video_seconds"] = args.max_video_seconds
    elif args.which == "http":
        from edge_face_tools import http

        result = http.run(Path(args.data), clients=args.clients, requests=args.requests, config=config)
    else:  # pragma: no cover - argparse restricts the choices
        raise SystemExit(f"unknown benchmark {args.which}")
    out = {"benchmark": args.which, "machine": machine(), "result": result}
    print(json.dumps(out, indent=2 if not args.json else None, default=float))
    return 0


def synth_attacks(args) -> int:
    """`edge-face synth-attacks ...`: its arguments go to the generator as they are."""
    from edge_face_tools import synth_attacks as generator

    return generator.main(args.rest)
