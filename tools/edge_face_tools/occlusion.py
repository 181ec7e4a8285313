"""Occlusion: fit the per-region model (`edge-face fit-occlusion`) and measure the gate (`edge-face bench occlusion`).

DIR is LFW-layout (images/<identity>/*). Identities are split by a sha1 rule stored with the fit, so the bench only
uses identities the model never saw, and its occluders come from another seed. Every occluded photo goes through
the whole gate again (detection on the occluded photo, alignment from the landmarks found there, features, model),
as a request would; an occluder that hides the face from the detector is counted apart (the API answers 4000).
"""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import numpy as np

from edge_face.imaging import decode_image
from edge_face.pipeline.align import align
from edge_face.pipeline.occlusion import REGIONS, features
from edge_face.pipeline.quality import laplacian_variance
from edge_face.pipeline.select import main_face_index
from edge_face.pipeline.types import Face
from edge_face.services.faces import NoFaceFound
from edge_face_tools.faces import identity_of, list_images
from edge_face_tools.fitsplit import in_fit_set
from edge_face_tools.occluders import KINDS, draw, load_mask_textures

FIT_RULE = {"hash": "sha1", "modulo": 2, "fit_residues": [0]}
FIT_SEED, BENCH_SEED = 1, 2
CLEAN_FALSE_REFUSAL_PER_REGION = 0.004  # threshold = this quantile of the clean faces' visibility, per region
L2 = 1e-2
CALIBRATION_EVERY = 3  # every 3rd fit photo sets the thresholds only (features the model was not trained on)
# swap the person's left and right when a crop is mirrored
_MIRROR = {"left_eye": "right_eye", "right_eye": "left_eye", "nose": "nose", "mouth": "mouth"}


def split_photos(data: Path, fit: bool, limit: int | None) -> list[str]:
    """The photos of the fit half (fit=True) or of the held-out half of DIR's identities, the first `limit` of them."""
    paths = [p for p in list_images(data / "images") if in_fit_set(identity_of(p), FIT_RULE) == fit]
    return paths[:limit] if limit else paths


def main_face(service, img: np.ndarray) -> Face | None:
    """The face a request would take (the detector's main face), or None."""
    faces = service.detector.detect(img)
    if not faces:
        return None
    return faces[main_face_index(faces, img.shape[1], img.shape[0])]


def _labels(covers: set[str]) -> np.ndarray:
    return np.array([r in covers for r in REGIONS], np.float32)


def _mirror_features(crop: np.ndarray, covers: set[str]) -> tuple[np.ndarray, np.ndarray]:
    return features(np.ascontiguousarray(crop[:, ::-1])), _labels({_MIRROR[r] for r in covers})


def collect(data: Path, service, limit: int | None, per_photo: int = 3,
            progress: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[float], dict]:
    """Features and labels of clean faces (and their mirror images) and of synthetic occlusions of them."""
    rng = np.random.default_rng(FIT_SEED)
    masks = load_mask_textures(None)
    paths = split_photos(data, True, limit)
    xs, ys, lap, group = [], [], [], []
    counts = {"photos": len(paths), "no_face": 0, "occluded_samples": 0, "occluder_hid_face": 0}
    prev = None
    for i, rel in enumerate(paths):
        img = decode_image((data / rel).read_bytes())
        face = main_face(service, img)
        if face is None:
            counts["no_face"] += 1
            continue
        crop = align(img, face.landmarks)
        lap.append(laplacian_variance(crop))
        for c, covers in ((crop, set()),):
            xs.append(features(c)), ys.append(_labels(covers))
            fx, fy = _mirror_features(c, covers)
            xs.append(fx), ys.append(fy)
        for n in range(per_photo):
            kind = KINDS[(i * per_photo + n) % len(KINDS)]
            occluded, covers = draw(img, face.landmarks, kind, rng, masks, prev)
            found = main_face(service, occluded)
            if found is None:
                counts["occluder_hid_face"] += 1
                continue
            oc = align(occluded, found.landmarks)
            xs.append(features(oc)), ys.append(_labels(covers))
            fx, fy = _mirror_features(oc, covers)
            xs.append(fx), ys.append(fy)
            counts["occluded_samples"] += 1
        prev = img
        group.extend([i] * (len(xs) - len(group)))
        if progress and (i + 1) % 250 == 0:
            print(f"  {i + 1}/{len(paths)} photos", flush=True)
    return np.stack(xs), np.stack(ys), np.array(group), lap, counts


def train_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """One L2-regularised logistic regression per column of y, full-batch Adam on standardised features."""
    n, d = x.shape
    w = np.zeros((y.shape[1], d), np.float64)
    b = np.zeros(y.shape[1], np.float64)
    mw, vw, mb, vb = (np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b))
    lr, b1, b2, eps = 0.05, 0.9, 0.999, 1e-8
    for t in range(1, steps + 1):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w.T + b, -50, 50)))
        g = (p - y) / n
        gw = g.T @ x + l2 * w
        gb = g.sum(0)
        mw, vw = b1 * mw + (1 - b1) * gw, b2 * vw + (1 - b2) * gw**2
        mb, vb = b1 * mb + (1 - b1) * gb, b2 * vb + (1 - b2) * gb**2
        w -= lr * (mw / (1 - b1**t)) / (np.sqrt(vw / (1 - b2**t)) + eps)
        b -= lr * (mb / (1 - b1**t)) / (np.sqrt(vb / (1 - b2**t)) + eps)
    return w, b


def fit(data: Path, service, limit: int | None = None, progress: bool = False) -> dict:
    """The whole models/quality/quality.json: occlusion model and thresholds, sharpness scale, mouth constants."""
    t0 = time.time()
    x, y, group, lap, counts = collect(data, service, limit, progress=progress)
    n_samples = len(y)
    train = group % CALIBRATION_EVERY != CALIBRATION_EVERY - 1
    mean = x[train].mean(0)
    scale = x[train].std(0) + 1e-3
    z = (x - mean) / scale
    w, b = train_logistic(z[train].astype(np.float64), y[train].astype(np.float64))
    p = 1.0 / (1.0 + np.exp(-np.clip(z[~train] @ w.T + b, -50, 50)))
    visible, y = 1.0 - p, y[~train]  # thresholds and the report from the calibration photos only
    clean = y.sum(1) == 0
    min_visible = {r: float(np.quantile(visible[clean, i], CLEAN_FALSE_REFUSAL_PER_REGION)) for i, r in enumerate(REGIONS)}
    thr = np.array([min_visible[r] for r in REGIONS])
    refused = (visible < thr).any(1)
    report = {
        "samples": int(n_samples), **counts,
        "calibration_samples": int(len(y)),
        "calibration_clean_refused": float(refused[clean].mean()),
        "calibration_occluded_refused": float(refused[~clean].mean()),
        "calibration_region_recall": {r: float((visible[y[:, i] > 0, i] < thr[i]).mean()) for i, r in enumerate(REGIONS)},
        "seconds": round(time.time() - t0, 1),
    }
    return {
        "about": "Quality constants of SenseID 2.1 and the 4004 occlusion gate; written by `edge-face fit-occlusion "
                 "--data DIR --write` (edge_face_tools.occlusion.fit). Do not edit by hand.",
        "fit": {"data": data.name, "rule": FIT_RULE, "limit": limit, "seed": FIT_SEED, "kinds": list(KINDS),
                "clean_false_refusal_per_region": CLEAN_FALSE_REFUSAL_PER_REGION, "l2": L2,
                "calibration_every": CALIBRATION_EVERY, "report": report},
        "sharpness": {"half": float(statistics.median(lap)),
                      "meaning": "Laplacian variance of the aligned face that scores 0.5 (the fit set's median)"},
        "mouth_open": {"closed_ratio": 0.05, "wide_ratio": 0.65,
                       "meaning": "inner-lip gap / inner mouth width of the mesh mapped linearly: closed -> 0, wide -> 1"},
        "occlusion": {
            "regions": list(REGIONS),
            "model": {"mean": _r(mean), "scale": _r(scale),
                      "weights": {r: _r(w[i]) for i, r in enumerate(REGIONS)},
                      "bias": {r: float(b[i]) for i, r in enumerate(REGIONS)}},
            "thresholds": {"min_visible": min_visible},
        },
    }


def _r(a: np.ndarray) -> list[float]:
    return [float(f"{v:.6g}") for v in np.asarray(a).reshape(-1)]


def write(path: Path, fitted: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fitted, indent=1) + "\n")


def run(data: Path, service, limit: int | None = None, progress: bool = False) -> dict:
    """Gate on clean held-out faces and on one synthetic occlusion of each (kinds in turn)."""
    rng = np.random.default_rng(BENCH_SEED)
    masks = load_mask_textures(None)
    paths = split_photos(data, False, limit)
    clean = {"faces": 0, "refused": 0, "no_face": 0}
    occl = {"faces": 0, "refused_4004": 0, "hidden_4000": 0, "passed": 0}
    by_kind: dict[str, dict[str, int]] = {k: {"faces": 0, "refused": 0, "hidden": 0} for k in KINDS}
    refused_clean_photos: list[str] = []
    ms: list[float] = []
    prev = None
    for i, rel in enumerate(paths):
        img = decode_image((data / rel).read_bytes())
        face = main_face(service, img)
        if face is None:
            clean["no_face"] += 1
            continue
        t0 = time.perf_counter()
        covered = service.check_occlusion(img)
        ms.append((time.perf_counter() - t0) * 1e3)
        clean["faces"] += 1
        if covered:
            clean["refused"] += 1
            refused_clean_photos.append(rel)
        kind = KINDS[i % len(KINDS)]
        occluded, _ = draw(img, face.landmarks, kind, rng, masks, prev)
        prev = img
        occl["faces"] += 1
        by_kind[kind]["faces"] += 1
        try:
            covered = service.check_occlusion(occluded)
        except NoFaceFound:
            covered = None
        if covered is None:
            occl["hidden_4000"] += 1
            by_kind[kind]["hidden"] += 1
        elif covered:
            occl["refused_4004"] += 1
            by_kind[kind]["refused"] += 1
        else:
            occl["passed"] += 1
        if progress and (i + 1) % 250 == 0:
            print(f"  {i + 1}/{len(paths)} photos", flush=True)
    n_occ = max(1, occl["faces"])
    return {
        "photos": len(paths), "held_out_rule": FIT_RULE, "limit": limit, "seed": BENCH_SEED,
        "mask_textures": len(masks),
        "clean": {**clean, "false_refusal_rate": clean["refused"] / max(1, clean["faces"])},
        "occluded": {**occl,
                     "refused_rate_4004": occl["refused_4004"] / n_occ,
                     "refused_rate_4004_or_4000": (occl["refused_4004"] + occl["hidden_4000"]) / n_occ},
        "by_kind": {k: {**v, "refused_rate": v["refused"] / max(1, v["faces"]),
                        "refused_or_hidden_rate": (v["refused"] + v["hidden"]) / max(1, v["faces"])}
                    for k, v in by_kind.items()},
        "ms_gate_median": statistics.median(ms) if ms else None,
        "refused_clean_photos": refused_clean_photos[:50],
    }
