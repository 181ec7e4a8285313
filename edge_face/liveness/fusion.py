"""The fused liveness score: logistic regression on the cues' standardised scores, as data (fusion.json).

A missing cue (video too short for a pulse, no mesh) contributes nothing: its standardised value is taken as 0, the
mean of the fitting set. `liveness_score` = sigmoid(bias + sum w_i z_i); live when it is at least `threshold`.

`vetoes` are physical rules, not fitted weights: {"coupling": {"above": 0.5}} rejects whatever the other cues say
when more than half of the face's motion is carried by its surroundings (a presented object; see coupling.py). A
veto is only as good as its cue's evidence, so an undecided cue (None) never vetoes. A vetoed score is brought
under the threshold in proportion to how far past its limit the cue went, so the score still orders attempts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

CUES = ("antispoof", "motion", "blink", "pulse", "moire", "planarity", "texture_planarity", "coupling", "frame",
        "nonrigid", "rigidity", "own_motion")


@dataclass(frozen=True)
class Fusion:
    weights: dict[str, float]
    means: dict[str, float]
    scales: dict[str, float]
    bias: float
    threshold: float
    image_threshold: float  # the single-frame path (MiniFASNet P(real) of one photo)
    meta: dict = field(default_factory=dict)
    vetoes: dict[str, dict[str, float]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> "Fusion":
        return cls(weights={k: float(v) for k, v in d["weights"].items()},
                   means={k: float(v) for k, v in d["means"].items()},
                   scales={k: float(v) for k, v in d["scales"].items()},
                   bias=float(d["bias"]), threshold=float(d["threshold"]),
                   image_threshold=float(d["image_threshold"]), meta=d.get("meta", {}),
                   vetoes={k: {r: float(x) for r, x in v.items()} for k, v in d.get("vetoes", {}).items()})

    def to_dict(self) -> dict:
        return {"weights": self.weights, "means": self.means, "scales": self.scales, "bias": self.bias,
                "threshold": self.threshold, "image_threshold": self.image_threshold, "vetoes": self.vetoes,
                "meta": self.meta}

    def veto(self, cues: dict[str, float | None]) -> tuple[str, float] | None:
        """The vetoing cue and how far past its limit it went (0..1), or None. Rules: "above" (the cue's score
        over the limit rejects; scores live in [0, 1]) and "below" (under the limit rejects)."""
        worst: tuple[str, float] | None = None
        for name, rule in self.vetoes.items():
            v = cues.get(name)
            if v is None:
                continue
            past = None
            if "above" in rule and v > rule["above"]:
                past = (v - rule["above"]) / max(1e-6, 1.0 - rule["above"])
            elif "below" in rule and v < rule["below"]:
                past = (rule["below"] - v) / max(1e-6, abs(rule["below"]) or 1.0)
            if past is not None and (worst is None or past > worst[1]):
                worst = (name, min(1.0, past))
        return worst

    def needed(self) -> frozenset[str]:
        """The cues a decision uses: the weighted ones and the vetoes."""
        return frozenset(self.weights) | frozenset(self.vetoes)

    def decide(self, cues: dict[str, float | None]) -> tuple[bool, float, str]:
        """(passed, score, deciding cue): the fused score against the threshold, unless a veto rejects."""
        score = self.score(cues)
        vetoed = self.veto(cues)
        if vetoed is not None:
            name, past = vetoed
            return False, min(score, self.threshold * (1.0 - past) * 0.999), name
        passed = score >= self.threshold
        return passed, score, self.decisive(cues, passed)

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
