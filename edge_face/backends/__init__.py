"""LiteRT interpreters behind one small interface; the model registry picks one per model."""
from edge_face.backends.litert import Backend, CpuBackend, Runner

__all__ = ["Backend", "CpuBackend", "Runner"]
