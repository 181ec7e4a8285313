"""`edge-face calibrate`: fit a variant's cosine -> score map on impostor pairs of a face folder and store it.

Identities are split by a hash of their name: pairs within the fit half give the map, pairs within the other half
measure it, and the rule is stored with the map so that benchmarks can hold the fit half out too.
"""
from __future__ import annotations

import json
from pathlib import Path

from edge_face.pipeline.calibrate import fit_knots, measured_far
from edge_face.services.faces import FaceService
from edge_face_tools.faces import embed_photos, identity_of, list_images
from edge_face_tools.fitsplit import in_fit_set
from edge_face_tools.lfw import impostor_cosines

FIT_RULE = {"hash": "sha1", "modulo": 2, "fit_residues": [0]}


def fit(data: Path, service: FaceService, progress: bool = False) -> dict:
    paths = list_images(data / "images")
    emb = embed_photos(service, data, paths, progress=progress)
    found = [p for p in paths if p in emb.index]
    vec = emb.matrix()[[emb.index[p] for p in found]]
    fit_idx = [i for i, p in enumerate(found) if in_fit_set(identity_of(p), FIT_RULE)]
    held_idx = [i for i, p in enumerate(found) if not in_fit_set(identity_of(p), FIT_RULE)]
    fit_imp = impostor_cosines([found[i] for i in fit_idx], vec[fit_idx])
    cal = fit_knots(fit_imp)
    held_imp = impostor_cosines([found[i] for i in held_idx], vec[held_idx])
    return {
        "calibration": cal.to_dict(),
        "calibration_fit": {**FIT_RULE, "data": data.name, "photos": len(fit_idx), "impostor_pairs": int(len(fit_imp))},
        "report": {
            "photos": len(paths),
            "no_face": len(emb.no_face),
            "fit": measured_far(cal.score(fit_imp)),
            "holdout": measured_far(cal.score(held_imp)),
            "holdout_impostor_pairs": int(len(held_imp)),
            "cosine_at_threshold": {f"{t:.1f}": round(cal.cosine_at(t), 4) for t in (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)},
        },
    }


def write(variant_file: Path, fitted: dict) -> None:
    """Store the map (and its fit rule and measured FAR) in the variant file, keeping everything else."""
    data = json.loads(variant_file.read_text())
    data["calibration"] = fitted["calibration"]
    data["calibration_fit"] = fitted["calibration_fit"]
    data["calibration_report"] = fitted["report"]
    variant_file.write_text(json.dumps(data, indent=2) + "\n")


def identity_calibration() -> dict:
    """Score = cosine mapped linearly from [-1, 1] to [0, 1]: only for fitting a new variant."""
    return {"knots": [[-1.0, 0.0], [1.0, 1.0]]}


__all__ = ["fit", "write", "identity_calibration"]
