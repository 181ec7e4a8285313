"""`edge-face`: serve | verify | encrypt | calibrate | tune | bench. Wires things together; owns no logic."""
from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

from edge_face.config import ConfigError, load_config


def _machine() -> dict:
    import os

    return {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "processor": _cpu_model()}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _service(args, config=None):
    """The configured face service, warmed (the benchmarks time requests, not XNNPACK's set-up)."""
    from edge_face.services import wire_faces

    service = wire_faces(config or load_config(args.config))
    service.warm_up()
    return service


def cmd_serve(args) -> int:
    from edge_face.api.logs import configure_logging
    from edge_face.api.server import serve

    env = {}
    if args.host:
        env["EDGE_FACE_HOST"] = args.host
    if args.port:
        env["EDGE_FACE_PORT"] = str(args.port)
    import os

    config = load_config(args.config, {**os.environ, **env})
    configure_logging(config)
    return serve(config)


def cmd_backoff(args) -> int:
    import os

    from edge_face import backoff

    state_dir = Path(args.state_dir or os.environ.get("STATE_DIRECTORY", "/var/lib/edge-face").split(":")[0])
    if args.action == "record":
        failures = backoff.record(state_dir, os.environ.get("SERVICE_RESULT", "success"), window=args.window)
        print(f"edge-face backoff: {len(failures)} failed run(s) in the last {args.window:g} s", file=sys.stderr)
    else:
        slept = backoff.wait(state_dir, base=args.base, cap=args.cap, window=args.window)
        if slept:
            print(f"edge-face backoff: waited {slept:g} s after recent failures", file=sys.stderr)
    return 0


def cmd_verify(args) -> int:
    from edge_face.imaging import ImageError, decode_image
    from edge_face.services.faces import NoFaceFound

    config = load_config(args.config)
    service = _service(args, config)
    try:
        first = decode_image(Path(args.first).read_bytes(), config.limits)
        second = decode_image(Path(args.second).read_bytes(), config.limits)
        r = service.verify_pair(first, second, auto_rotate=args.auto_rotate)
    except (OSError, ImageError, NoFaceFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    threshold = args.threshold
    out = {"verification_score": round(r.score, 4), "cosine": round(r.cosine, 4), "first_rect": list(r.first_rect),
           "second_rect": list(r.second_rect), "threshold": threshold,
           "decision": "same person" if r.score >= threshold else "different people"}
    print(json.dumps(out) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))
    return 0


def cmd_encrypt(args) -> int:
    from edge_face.crypto import VendorCipher

    config = load_config(args.config)
    data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    print(VendorCipher(config.aes_key, config.aes_iv).encrypt(data))
    return 0


def cmd_calibrate(args) -> int:
    from edge_face.backends import CpuBackend
    from edge_face.bench import calibrate
    from edge_face.runtime import plan
    from edge_face.services import wire_faces

    config = load_config(args.config)
    variant = args.variant or config.model_variant
    service = wire_faces(config, variant=variant, calibration=calibrate.identity_calibration(),
                         backend=CpuBackend(plan(config)[1]))
    fitted = calibrate.fit(Path(args.data), service, progress=not args.json)
    if args.write:
        calibrate.write(Path(config.models_dir) / "verification" / f"{variant}.json", fitted)
    print(json.dumps({"machine": _machine(), **fitted}, indent=2))
    return 0


def cmd_fit_occlusion(args) -> int:
    from edge_face.bench import occlusion

    config = load_config(args.config)
    service = _service(args)
    fitted = occlusion.fit(Path(args.data), service, limit=args.limit, progress=not args.json)
    if args.write:
        occlusion.write(Path(config.models_dir) / "quality" / "quality.json", fitted)
    print(json.dumps({"machine": _machine(), "fit": fitted["fit"], "sharpness": fitted["sharpness"],
                      "thresholds": fitted["occlusion"]["thresholds"]}, indent=2))
    return 0


def cmd_bench(args) -> int:
    service = _service(args) if args.which in ("lfw", "detect", "occlusion", "pose", "liveness") else None
    if args.which == "lfw":
        from edge_face.bench import lfw

        result = lfw.run(Path(args.data), service, far_over_all=not args.pairs_only, progress=not args.json)
        if args.peer:
            from edge_face.bench import peer

            result = {"edge_face": result, "peer": peer.run_lfw(args.peer, Path(args.data))}
    elif args.which == "detect":
        from edge_face.bench import detect

        result = detect.run(Path(args.data), service)
    elif args.which in ("occlusion", "pose"):
        from edge_face.bench import occlusion, pose

        result = (occlusion if args.which == "occlusion" else pose).run(Path(args.data), service, limit=args.limit,
                                                                        progress=not args.json)
    elif args.which == "liveness":
        from dataclasses import replace

        from edge_face.bench import liveness
        from edge_face.services import LivenessService

        # The service refuses videos over limits.max_video_seconds (30 s); the benchmark looks at longer dev clips
        # too (--max-video-seconds), and says which limit it used.
        limits = replace(load_config(args.config).limits, max_video_seconds=args.max_video_seconds)
        result = liveness.run(Path(args.data), LivenessService(service, limits), progress=not args.json,
                              fit=Path(args.fit) if args.fit else None)
        result["max_video_seconds"] = args.max_video_seconds
    elif args.which == "http":
        from edge_face.bench import http

        result = http.run(Path(args.data), clients=args.clients, requests=args.requests, config=load_config(args.config))
    else:  # pragma: no cover - argparse restricts the choices
        raise SystemExit(f"unknown benchmark {args.which}")
    out = {"benchmark": args.which, "machine": _machine(), "result": result}
    print(json.dumps(out, indent=2 if not args.json else None, default=float))
    return 0


def cmd_tune(args) -> int:
    from edge_face import tuning

    config = load_config(args.config)
    record = {"machine": _machine(), **tuning.measure(config, repeats=args.repeats)}
    path = Path(args.output) if args.output else tuning.tune_path(config)
    tuning.write(path, record)
    if not args.json:
        for name, v in record["variants"].items():
            print(f"{name:12s} {v['ms_per_photo']:7.2f} ms/photo  lfw-dev {v['lfw_dev_accuracy']}%"
                  f"{'' if v['eligible'] else '  (not within ' + str(tuning.TOLERANCE) + ' point)'}", file=sys.stderr)
        print(f"chosen: {record['chosen']} -> {path}", file=sys.stderr)
    print(json.dumps(record, indent=None if args.json else 2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-face", description=__doc__)
    p.add_argument("--config", help="TOML configuration file (default: $EDGE_FACE_CONFIG, else embedded defaults)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the HTTP service")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.set_defaults(func=cmd_serve)

    r = sub.add_parser("backoff", help="systemd restart back-off: ExecStartPre= wait, ExecStopPost= record")
    r.add_argument("action", choices=["wait", "record"])
    r.add_argument("--state-dir", help="default: $STATE_DIRECTORY (StateDirectory=), else /var/lib/edge-face")
    r.add_argument("--base", type=float, default=1.0, help="seconds after the first recent failure")
    r.add_argument("--cap", type=float, default=60.0, help="longest wait in seconds")
    r.add_argument("--window", type=float, default=600.0, help="failures older than this are forgotten")
    r.set_defaults(func=cmd_backoff)

    v = sub.add_parser("verify", help="compare the main faces of two photos")
    v.add_argument("first")
    v.add_argument("second")
    v.add_argument("--auto-rotate", action="store_true")
    v.add_argument("--threshold", type=float, default=0.7, help="score threshold (0.7 = FAR 1/10,000)")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_verify)

    e = sub.add_parser("encrypt", help="encrypt a file as a client must send it (Base64 AES-256-GCM)")
    e.add_argument("file", help="file to encrypt, or - for standard input")
    e.set_defaults(func=cmd_encrypt)

    c = sub.add_parser("calibrate", help="fit the cosine -> score map of a model variant on a face folder")
    c.add_argument("--data", required=True, help="folder with images/<identity>/*")
    c.add_argument("--variant")
    c.add_argument("--write", action="store_true", help="store the fitted map in models/verification/<variant>.json")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_calibrate)

    t = sub.add_parser("tune", help="time every model variant on this CPU, record the fastest accurate one "
                                    "(model_variant = \"auto\" uses it)")
    t.add_argument("--output", help="default: tune_file, else $STATE_DIRECTORY/tune.json, else "
                                    "~/.cache/edge_face/tune.json")
    t.add_argument("--repeats", type=int, default=30)
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_tune)

    b = sub.add_parser("bench", help="benchmarks (JSON)")
    b.add_argument("which", choices=["lfw", "detect", "http", "occlusion", "pose", "liveness"])
    b.add_argument("--data", required=True)
    b.add_argument("--json", action="store_true", help="compact JSON only, no progress lines")
    b.add_argument("--peer", help="also run a peer on the same data (lfw: face_recognition)")
    b.add_argument("--pairs-only", action="store_true", help="lfw: skip the FAR over all cross-identity pairs")
    b.add_argument("--clients", type=int, default=4, help="http: concurrent clients")
    b.add_argument("--requests", type=int, default=200, help="http: requests in all")
    b.add_argument("--limit", type=int, help="occlusion, pose: only the first N held-out photos")
    b.add_argument("--fit", help="liveness: fit the cue fusion on DIR and write it to this JSON file")
    b.add_argument("--max-video-seconds", type=float, default=60.0, help="liveness: longest video analysed")
    b.set_defaults(func=cmd_bench)

    o = sub.add_parser("fit-occlusion", help="fit the occlusion model and quality constants on a face folder")
    o.add_argument("--data", required=True, help="folder with images/<identity>/* (the fit half of its identities)")
    o.add_argument("--limit", type=int, help="only the first N fit photos")
    o.add_argument("--write", action="store_true", help="store the fit in models/quality/quality.json")
    o.add_argument("--json", action="store_true")
    o.set_defaults(func=cmd_fit_occlusion)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
