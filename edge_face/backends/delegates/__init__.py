"""One small module per accelerator, each describing how its TFLite delegate is loaded and what it needs.

All of them load through the same mechanism (edge_face.backends.delegate.DelegateBackend); a module here only
holds the facts an operator needs when the delegate cannot load.
"""
from __future__ import annotations

from edge_face.backends.delegates import armnn, edgetpu, ethosu, teflon, vx
from edge_face.backends.delegates.spec import DelegateSpec

KNOWN: dict[str, DelegateSpec] = {m.SPEC.name: m.SPEC for m in (edgetpu, vx, ethosu, teflon, armnn)}

__all__ = ["DelegateSpec", "KNOWN"]
