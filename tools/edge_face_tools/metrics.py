"""Verification metrics over pairs: k-fold accuracy with the threshold chosen on the other folds, TAR at a FAR."""
from __future__ import annotations

import numpy as np


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """Threshold (accept if score >= t) that maximises accuracy on these pairs."""
    order = np.argsort(scores)
    s, y = scores[order], same[order].astype(int)
    # accepting everything from index i on: correct = negatives below i + positives from i on
    neg_below = np.concatenate([[0], np.cumsum(1 - y)])
    pos_from = np.concatenate([np.cumsum(y[::-1])[::-1], [0]])
    correct = neg_below + pos_from
    i = int(np.argmax(correct))
    finite = s[np.isfinite(s)]
    if i == 0:
        return float(finite[0] - 1e-6) if len(finite) else 0.0
    if i == len(s):
        return float(finite[-1] + 1e-6) if len(finite) else 0.0
    lo, hi = s[i - 1], s[i]
    if not np.isfinite(lo) or not np.isfinite(hi):
        return float(hi if np.isfinite(hi) else lo)
    return float((lo + hi) / 2)


def kfold_accuracy(scores: np.ndarray, same: np.ndarray, folds: np.ndarray) -> dict:
    accs, thresholds = [], []
    for f in np.unique(folds):
        test = folds == f
        t = best_threshold(scores[~test], same[~test]) if (~test).any() else best_threshold(scores, same)
        accs.append(float(((scores[test] >= t) == same[test].astype(bool)).mean()))
        thresholds.append(t)
    return {"accuracy": float(np.mean(accs)), "accuracy_std": float(np.std(accs)), "folds": len(accs),
            "fold_accuracies": accs, "fold_thresholds": thresholds}


def tar_at_far(scores: np.ndarray, same: np.ndarray, far: float) -> float:
    """True-accept rate at the smallest threshold whose false-accept rate is <= far."""
    neg = np.sort(scores[~same.astype(bool)])
    pos = scores[same.astype(bool)]
    if len(neg) == 0 or len(pos) == 0:
        return float("nan")
    k = int(np.floor(far * len(neg)))  # impostors allowed above the threshold
    t = np.nextafter(neg[len(neg) - 1 - k], np.inf) if k < len(neg) else -np.inf
    return float((pos >= t).mean())


def evaluate_pairs(vectors: dict[str, np.ndarray], pairs: list[dict]) -> dict:
    """Metrics of unit embeddings (by photo path) on pairs (path_a, path_b, same, fold).

    A pair with a photo without a face is a failed pair: an error for accuracy whichever its label, and a reject
    for TAR/FAR (a system that finds no face accepts nobody).
    """
    cos, same, folds, failed = [], [], [], []
    for p in pairs:
        a, b = vectors.get(p["path_a"]), vectors.get(p["path_b"])
        failed.append(a is None or b is None)
        cos.append(float(a @ b) if not failed[-1] else 0.0)
        same.append(int(p["same"]))
        folds.append(int(p.get("fold") or 1))
    cos_a, same_a, failed_a = np.array(cos), np.array(same), np.array(failed, bool)
    as_error = np.where(failed_a, np.where(same_a == 1, -np.inf, np.inf), cos_a)
    as_reject = np.where(failed_a, -np.inf, cos_a)
    return {
        **kfold_accuracy(as_error, same_a, np.array(folds)),
        "tar_at_far_1e-3": tar_at_far(as_reject, same_a, 1e-3),
        "tar_at_far_1e-4": tar_at_far(as_reject, same_a, 1e-4),
        "failed_pairs": int(failed_a.sum()),
    }
