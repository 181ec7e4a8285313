"""What one frame leaves behind for the cues once the frame itself is gone (frames are never kept)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_face.liveness.coupling import FlowPair
from edge_face.pipeline.types import Face


@dataclass(frozen=True)
class Sample:
    """The tracked face at time t (seconds) and each cue's per-frame measurement (None where not measured)."""

    t: float
    face: Face
    points: np.ndarray | None  # 468 x 3 face mesh in frame pixels
    antispoof: float | None  # MiniFASNet P(real) of this frame
    skin: np.ndarray | None  # mean B, G, R of the cheeks and forehead (pulse)
    moire: float | None  # spectral peakiness of the face region (screens)
    flow: FlowPair | None = None  # face and surroundings motion since the previous sample (coupling)
    frame: int | None = None  # sides of the face framed by long straight edges (frame.py: presentation edges)
    rigid: tuple[float, float, float] | None = None  # tilt, residual, face px of the face texture over ~0.5 s (rigidity.py)
