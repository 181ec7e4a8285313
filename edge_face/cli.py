"""`edge-face`: serve | verify | encrypt | tune | calibrate | bench | ... Wires things together; owns no logic
(calibrate, bench, fit-occlusion and synth-attacks run the development tools, edge_face_tools, where installed)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

from edge_face.config import ConfigError, load_config


TOOLS_MISSING = "the benchmark tools are not installed: pip install -e tools/ (make setup does it)"


def _tool(name: str) -> Callable[[argparse.Namespace], int]:
    """The command `name` of the benchmark tools (edge_face_tools.commands): a development set-up has them, the
    appliance does not, and there the command exits with status 2 saying how to install them."""

    def run(args: argparse.Namespace) -> int:
        try:
            from edge_face_tools import commands
        except ModuleNotFoundError as exc:
            if exc.name != "edge_face_tools":
                raise
            print(f"edge-face {args.command}: {TOOLS_MISSING}", file=sys.stderr)
            return 2
        return getattr(commands, name)(args)

    return run


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
    from edge_face.services import wire_faces
    from edge_face.services.faces import NoFaceFound

    config = load_config(args.config)
    service = wire_faces(config)
    service.warm_up()
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


def cmd_tune(args) -> int:
    from edge_face import tuning

    config = load_config(args.config)
    record = tuning.measure(config, repeats=args.repeats)
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
    c.set_defaults(func=_tool("calibrate"))

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
    b.add_argument("--fixed-camera", action="store_true",
                   help="liveness: also read the kiosk-mode videos (labels.csv mode=kiosk) as the camera session does")
    b.add_argument("--turn", action="store_true",
                   help="liveness: also each kiosk-mode video as a session that asked for a head turn "
                        "(camera.challenge = turn), once to the left and once to the right (implies --fixed-camera)")
    b.add_argument("--max-video-seconds", type=float, default=60.0, help="liveness: longest video analysed")
    b.add_argument("--all-cues", action="store_true",
                   help="liveness: compute and report every cue, not only those the service's fusion uses (the "
                        "research view; slower; --fit implies it)")
    b.set_defaults(func=_tool("bench"))

    o = sub.add_parser("fit-occlusion", help="fit the occlusion model and quality constants on a face folder")
    o.add_argument("--data", required=True, help="folder with images/<identity>/* (the fit half of its identities)")
    o.add_argument("--limit", type=int, help="only the first N fit photos")
    o.add_argument("--write", action="store_true", help="store the fit in models/quality/quality.json")
    o.add_argument("--json", action="store_true")
    o.set_defaults(func=_tool("fit_occlusion"))

    a = sub.add_parser("synth-attacks", add_help=False,
                       help="presentation-attack videos from real faces (developer tool: --faces DIR --out DIR)")
    a.set_defaults(func=_tool("synth_attacks"), passthrough=True)
    return p


def main(argv: list[str] | None = None) -> int:
    args, rest = build_parser().parse_known_args(argv)
    if rest and not getattr(args, "passthrough", False):
        build_parser().parse_args(argv)  # the usual error for unknown arguments
    try:
        args.rest = rest  # a passthrough command's own arguments
        return args.func(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
