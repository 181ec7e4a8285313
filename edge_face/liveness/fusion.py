"""The fused liveness score: logistic regression on the cues' standardised scores, as data (fusion.json).

A missing cue (video too short for a pulse, no mesh) contributes nothing: its standardised value is taken as 0, the
mean of the fitting set. `liveness_score` = sigmoid(bias + sum w_i z_i); live when it is at least `threshold`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

CUES = ("antispoof", "motion", "blink", "pulse", "moire", "planarity", "texture_planarity", "coupling")


@dataclass(frozen=True)
class Fusion:
    weights: dict[str, float]
    means: dict[str, float]
    scales: dict[str, float]
    bias: float
    threshold: float
    image_threshold: float  # the single-frame path (MiniFASNet P(real) of one photo)
    meta: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> "Fusion":
        return cls(weights={k: float(v) for k, v in d["weights"].items()},
                   means={k: float(v) for k, v in d["means"].items()},
                   scales={k: float(v) for k, v in d["scales"].items()},
                   bias=float(d["bias"]), threshold=float(d["threshold"]),
                   image_threshold=float(d["image_threshold"]), meta=d.get("meta", {}))

    def to_dict(self) -> dict:
        return {"weights": self.weights, "means": self.means, "scales": self.scales, "bias": self.bias,
                "threshold": self.threshold, "image_threshold": self.image_threshold, "meta": self.meta}

    def standardise(self, cues: dict[str, float | None]) -> dict[str, float]:
        out = {}
        for name in self.weights:
            v = cues.get(name)
            out[name] = 0.0 if v is None else (v - self.means[name]) / (self.scales[name] or 1.0)
        return out

    def contributions(self, cues: dict[str, float | None]) -> dict[str, float]:
        """Each cue's term w_i z_i of the logit (0 for an undecided cue)."""
        z = self.standardise(cues)
        return {k: self.weights[k] * z[k] if cues.get(k) is not None else 0.0 for k in self.weights}

    def decisive(self, cues: dict[str, float | None], passed: bool) -> str:
        """The cue that pushed the verdict most its way: the largest term for a pass, the most negative for a
        rejection ("bias" when no cue pushed that way: the prior decided)."""
        terms = self.contributions(cues)
        if not terms:
            return "bias"
        name = max(terms, key=terms.get) if passed else min(terms, key=terms.get)
        return name if (terms[name] > 0) == passed and terms[name] != 0 else "bias"

    def score(self, cues: dict[str, float | None]) -> float:
        z = self.standardise(cues)
        s = self.bias + sum(self.weights[k] * z[k] for k in self.weights)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, s))))
