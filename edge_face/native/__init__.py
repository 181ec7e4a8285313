"""The native core, with the NumPy reference beside it.

`EDGE_FACE_NATIVE=0` selects the reference everywhere (what the native code is tested against).
"""
from __future__ import annotations

import os

import numpy as np

from edge_face.native import reference

try:  # the extension is built by `pip install`; a source checkout without a build still works
    from edge_face import _native  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the install
    _native = None

ENABLED = _native is not None and os.environ.get("EDGE_FACE_NATIVE", "1") != "0"


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """N x M cosine similarities of the rows of `a` and `b`."""
    if ENABLED:
        return _native.cosine_matrix(np.ascontiguousarray(a, np.float32), np.ascontiguousarray(b, np.float32))
    return reference.cosine_matrix(a, b)
