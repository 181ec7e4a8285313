"""Own motion: does the face ever move against its own surroundings? A held print or a screen that fills the view
is one rigid plane: between two frames its face and the region around it (the photo's background, the paper, the
bezel) move by one homography, however the hand or the camera moves, so the face's motion that the ring's
homography leaves unexplained stays at the tracker's noise. A live head is not glued to the room behind it: it
nods, talks and breathes, and a hand-held camera, which translates as well as it turns, shows the head against a
background metres further away with parallax.

The flow pairs are coupling.FlowMeter's (no extra measurement: this cue costs nothing once the coupling is
measured). The score is the median, over the pairs where the face moved (coupling.MIN_MOTION of its width) and
the ring was seen, of the face's motion left unexplained by the ring's motion (capped at the motion), over the face
width, where the ring's motion is the better of its homography (a flat sheet) and a quadratic motion field (a bent
sheet, a cylinder: one smooth surface, which no homography describes); None (undecided) with fewer than MIN_PAIRS such pairs: a face that did not move says nothing. Unlike
the coupling's share, it does not skip the pairs where the whole view moved: a rigid plane filling the view is
exactly what it is for, and the coupling cannot see it (its surroundings are the plane).

Measured (report of issue 13: liveness-dev and three generated sets of 70 attacks + 10 live controls, seeds 13,
29 and 47; x1000): liveness-dev live 7.3-85 (20 of 26 decided, 18 before each region kept its own corners; a
still person filmed hand-held: 7.3; Jaya's first 3 s alone, hand-held at arm's length, read 3.3-4.0), generated
flat and cut-out prints 1.3-9.9 (those that fill the view: the coupling cannot see them), bent prints 1.1-37,
screens from 1.6, paper masks 13-45 (a mask held before a head: the head behind moves on its own: this cue cannot
see a mask), screen replays of live people 18-49. The generator's hand-held live controls are real videos shaken by
a pure rotation (no translation, so no parallax): the one still driver among them reads 2.2-3.0, which a real
hand-held camera, which also translates, would not. Vetoed below 0.004 (fusion.json).
"""
from __future__ import annotations

import numpy as np

from edge_face.liveness.coupling import MIN_MOTION, FlowPair

MIN_PAIRS = 8


def score(pairs: list[FlowPair | None]) -> float | None:
    """Median unexplained face motion (face widths) over the pairs where the face moved; None with too few."""
    moved = [p for p in pairs if p is not None and p.unexplained is not None and p.motion >= MIN_MOTION]
    if len(moved) < MIN_PAIRS:
        return None
    return float(np.median([min(p.unexplained, p.smooth if p.smooth is not None else p.motion, p.motion)
                            for p in moved]))
