"""LiteRT interpreters behind one small interface: the CPU (XNNPACK) or an external delegate (NPU plug-ins)."""
from edge_face.backends.delegate import DelegateBackend, DelegateError
from edge_face.backends.litert import Backend, CpuBackend, Runner
from edge_face.backends.policy import BackendPolicy, policy_from_config

__all__ = ["Backend", "BackendPolicy", "CpuBackend", "DelegateBackend", "DelegateError", "Runner",
           "policy_from_config"]
