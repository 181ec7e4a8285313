"""The deterministic identity split used to fit a calibration, so that any benchmark can hold the fit set out."""
from __future__ import annotations

import hashlib


def in_fit_set(identity: str, rule: dict) -> bool:
    """True if `identity` was used to fit a calibration whose fit rule is `rule` ({"hash": "sha1", "modulo": m,
    "fit_residues": [...]}); an empty rule means nothing was held out."""
    if not rule:
        return True
    h = int(hashlib.sha1(identity.encode("utf-8")).hexdigest()[:8], 16)
    return h % int(rule["modulo"]) in set(rule["fit_residues"])
