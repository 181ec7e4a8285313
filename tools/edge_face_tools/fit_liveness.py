"""Fit the liveness fusion (models/liveness/fusion.json) on several labelled video folders at once (the real dev
videos plus `edge-face synth-attacks` output), and say how it does on what it was not fitted on:

* leave-one-source-out: each source (source_repo) scored by a fusion fitted without it;
* leave-one-attack-family-out: each attack family (prints, cut-outs, masks, screens, the dev set's replays)
  scored by a fusion fitted without any video of that family;

with the threshold chosen for APCER = 0 on the fitting set at the lowest BPCER (the midpoint between the highest
attack score and the next live score). Cue scores are cached per video (--cache) so refits take seconds.

    PYTHONPATH=tools .venv/bin/python -m edge_face_tools.fit_liveness \
        --data /work/shared/data/liveness-dev /tmp/synth --cache /tmp/cues.json [--write]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from edge_face.liveness.fusion import CUES, Fusion

# The direction each cue must push to be believed: live faces show confident MiniFASNet scores, non-rigid motion,
# blinks, a pulse and 3-D parallax; screens and prints add spectral peaks and carry their background along.
SIGNS = {"antispoof": 1, "motion": 1, "blink": 1, "pulse": 1, "moire": -1, "planarity": 1, "coupling": -1,
         "frame": -1, "nonrigid": 1, "rigidity": 1, "own_motion": 1}


def family(attack_type: str, source: str) -> str:
    a = attack_type.lower()
    if a.startswith("print_cutout"):
        return "cutout"
    if a.startswith("paper_mask"):
        return "mask"
    if a.startswith("print"):
        return "print"
    if a.startswith("screen"):
        return "screen_synth"
    return "replay_dev"


def analyse(folders: list[Path], cache_path: Path | None, limit_seconds: float) -> list[dict]:
    from edge_face_tools.liveness import read_labels
    from edge_face.config import load_config
    from edge_face.imaging.video import VideoError
    from edge_face.liveness.analyse import NoTrackableFace
    from edge_face.services import LivenessService, wire_faces

    cache = json.loads(cache_path.read_text()) if cache_path and cache_path.exists() else {}
    service = None
    rows = []
    for folder in folders:
        for r in read_labels(folder):
            if r["kind"] != "video":
                continue
            key = str(folder / r["path"])
            if key not in cache:
                if service is None:
                    config = load_config(None)
                    faces = wire_faces(config)
                    faces.warm_up()
                    service = LivenessService(faces, replace(config.limits, max_video_seconds=limit_seconds), all_cues=True)
                    service.warm_up()
                t0 = time.perf_counter()
                try:
                    res = service.detect_video((folder / r["path"]).read_bytes())
                    entry = {"cues": res.cues, "status": res.status, "seconds": res.face_seconds}
                except (VideoError, NoTrackableFace) as exc:
                    entry = {"cues": {}, "status": f"error: {exc}", "seconds": 0.0}
                entry["elapsed"] = time.perf_counter() - t0
                cache[key] = entry
                print(f"{r['label']:5} {entry['status'][:20]:20} {entry['elapsed']:.2f}s {r['path']}", file=sys.stderr)
                if cache_path:
                    cache_path.write_text(json.dumps(cache))
            rows.append({**cache[key], "path": key, "live": r["live"], "source": r["source"],
                         "attack_type": r["attack_type"], "family": "live" if r["live"] else
                         family(r["attack_type"], r["source"])})
    return rows


def fit(rows: list[dict], names: tuple[str, ...], l2: float, vetoes: dict | None = None) -> Fusion:
    """Sign-constrained class-balanced logistic regression; threshold at APCER 0 on `rows`, lowest BPCER. The
    vetoes (physical rules, not fitted) are applied first: the threshold only has to stop the attacks they let
    through."""
    from edge_face_tools.liveness import _fit

    live = np.array([r["live"] for r in rows])
    cues = [r["cues"] for r in rows]
    while True:
        fusion = _fit(cues, live, names, l2)
        wrong = [k for k in names if np.sign(fusion.weights[k]) != SIGNS.get(k, 1)]
        if not wrong:
            break
        names = tuple(k for k in names if k not in wrong)
    fusion = replace(fusion, vetoes=dict(vetoes or {}))
    scores = np.array([fusion.score(c) for c in cues])
    open_ = np.array([fusion.veto(c) is None for c in cues])
    spoof = ~live & open_
    top_spoof = scores[spoof].max() if spoof.any() else 0.0
    above = scores[live & open_ & (scores > top_spoof)]
    threshold = float((top_spoof + above.min()) / 2) if above.size else float(min(top_spoof + 1e-3, 1.0))
    return replace(fusion, threshold=threshold)


def accepted(fusion: Fusion, row: dict) -> bool:
    return bool(row["cues"]) and row["status"] != "short_time" and fusion.decide(row["cues"])[0]


def held_out(rows: list[dict], key: str, names: tuple[str, ...], l2: float, vetoes: dict | None = None
             ) -> list[bool]:
    """Each row judged by a fusion fitted without its `key` group (live rows of a family group stay in)."""
    out = [False] * len(rows)
    for g in sorted({r[key] for r in rows}):
        if key == "family" and g == "live":
            continue
        train = [r for r in rows if r[key] != g and r["cues"]]
        if not any(r["live"] for r in train) or all(r["live"] for r in train):
            continue
        f = fit(train, names, l2, vetoes)
        for i, r in enumerate(rows):
            if r[key] == g:
                out[i] = accepted(f, r)
    if key == "family":  # live rows: judged by the fusion fitted on everything but themselves' source
        pass
    return out


def table(rows: list[dict], acc: list[bool]) -> dict:
    out = {}
    for fam in sorted({r["family"] for r in rows}):
        sel = [i for i, r in enumerate(rows) if r["family"] == fam]
        n_acc = sum(acc[i] for i in sel)
        out[fam] = {"videos": len(sel), "accepted": n_acc, "rate": round(n_acc / len(sel), 4)}
    return out


def rates(rows: list[dict], acc: list[bool]) -> dict:
    live = [a for r, a in zip(rows, acc) if r["live"]]
    spoof = [a for r, a in zip(rows, acc) if not r["live"]]
    errors = sum(1 for r in rows if r["live"] and r["status"].startswith("error"))
    return {"apcer": round(sum(spoof) / max(1, len(spoof)), 4), "spoofs_accepted": sum(spoof), "spoofs": len(spoof),
            "bpcer": round(1 - sum(live) / max(1, len(live)), 4), "lives_rejected": len(live) - sum(live),
            "lives": len(live), "lives_4007": errors}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fit_liveness", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", nargs="+", required=True)
    ap.add_argument("--cache", default="")
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--cues", default=",".join(CUES))
    ap.add_argument("--max-video-seconds", type=float, default=60.0)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "models" / "liveness" / "fusion.json"))
    ap.add_argument("--veto", action="append", default=[], metavar="CUE:above|below:LIMIT",
                    help="a physical veto rule (e.g. coupling:above:0.5); default: the vetoes of --out")
    ap.add_argument("--write", action="store_true", help="store the fit in --out")
    args = ap.parse_args(argv)
    folders = [Path(d) for d in args.data]
    rows = analyse(folders, Path(args.cache) if args.cache else None, args.max_video_seconds)
    names = tuple(c for c in args.cues.split(",") if c)
    usable = [r for r in rows if r["cues"]]
    current = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else {}
    vetoes = dict(current.get("vetoes", {}))
    for v in args.veto:
        cue, rule, limit = v.split(":")
        vetoes[cue] = {rule: float(limit)}
    fusion = fit(usable, names, args.l2, vetoes)
    ins = [accepted(fusion, r) for r in rows]
    loso = held_out(rows, "source", names, args.l2, vetoes)
    lofo = held_out(rows, "family", names, args.l2, vetoes)
    report = {
        "fusion": {"weights": fusion.weights, "threshold": fusion.threshold, "vetoes": fusion.vetoes},
        "in_sample": {**rates(rows, ins), "per_family": table(rows, ins)},
        "leave_one_source_out": {**rates(rows, loso), "per_family": table(rows, loso)},
        "leave_one_family_out": {**rates([r for r in rows if not r["live"]], [a for r, a in zip(rows, lofo)
                                                                            if not r["live"]]),
                                 "per_family": table([r for r in rows if not r["live"]],
                                                     [a for r, a in zip(rows, lofo) if not r["live"]])},
        "decided_by": {},
        "rejected_live": [r["path"] for r, a in zip(rows, ins) if r["live"] and not a],
        "accepted_spoof": [r["path"] for r, a in zip(rows, ins) if not r["live"] and a],
        "ms_per_video_second": round(1000 * sum(r["elapsed"] for r in rows)
                                     / max(1e-9, sum(r["seconds"] for r in rows)), 1),
    }
    for r, a in zip(rows, ins):
        if r["cues"]:
            key = f"{'live' if r['live'] else 'spoof'}:{'accepted' if a else 'rejected'}"
            cue = fusion.decide(r["cues"])[2] if r["status"] != "short_time" else "short_time"
            report["decided_by"].setdefault(key, {}).setdefault(cue, 0)
            report["decided_by"][key][cue] += 1
    if args.write:
        d = fusion.to_dict()
        d["image_threshold"] = current.get("image_threshold", 0.5)
        d["meta"] = {"fitted_on": [f.name for f in folders], "videos": len(usable), "l2": args.l2,
                     "method": "class-balanced L2 logistic regression on standardised cue scores, weights "
                               "sign-constrained; threshold: APCER 0 on the fitting set at the lowest BPCER",
                     "leave_one_source_out": {k: v for k, v in report["leave_one_source_out"].items()
                                              if k != "per_family"},
                     "leave_one_family_out": report["leave_one_family_out"]}
        Path(args.out).write_text(json.dumps(d, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
