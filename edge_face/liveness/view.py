"""View motion, for a camera known not to move (the kiosk's own): does the whole view move? A fixed camera's frame
border shows the room, which stays still, whatever a live person in front of it does: their head and shoulders
cover the middle of the view, not its top and sides. A print or a screen held close enough to fill the view carries
the border with the hand that holds it, and the coupling cannot see it (the face's surroundings are the object
too); a tablet replaying a live person fills the view with a face that moves on its own, which own_motion passes.

Per flow pair (coupling.FlowMeter, nothing measured twice): the median motion of the tracked points of the frame's
outer strip (coupling.BORDER) away from the face and not below it, over the frame width. The score is the median
over the pairs with enough such points; None (undecided) with fewer than MIN_PAIRS of them, and always None for an
upload, whose camera may be hand-held (then the whole view moves for a live person too).

Measured (issue 13, session 4; `edge-face bench liveness --fixed-camera` and the dev videos read as a fixed
camera): liveness-dev live 0-0.006 for 15 of 26 (webcams on a desk, talking heads), 6 undecided (a plain wall),
0.010-0.024 for five: three that look hand-held and two close-ups whose hair and ears fill the border strips as
the head turns (a portrait clip 0.0107, a talking head on a black background 0.0139); the generator's kiosk attacks
that fill the view: prints 0.010-0.022, tablets replaying a live person 0.0158-0.0189 (which every other cue
passed). A person leaning in to the kiosk's camera overlaps the tablets, so the cue has no veto and no weight: it
is reported (bench --all-cues, the fitter) until real kiosk recordings say where close-ups end.
"""
from __future__ import annotations

import numpy as np

from edge_face.liveness.coupling import FlowPair

MIN_PAIRS = 4


def score(pairs: list[FlowPair | None], fixed_camera: bool) -> float | None:
    """Median border motion (frame widths) over the pairs that saw the border; None for a camera that may move."""
    if not fixed_camera:
        return None
    seen = [p.view for p in pairs if p is not None and p.view is not None]
    if len(seen) < MIN_PAIRS:
        return None
    return float(np.median(seen))
