"""Which backend runs which model, and whether a failing accelerator may hand a model to the CPU.

A fallback is only ever taken when configured, and it is recorded so that /readyz, /metrics and the log say so:
a silent fallback is the most reported complaint in peer projects.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from edge_face.backends.litert import Backend, CpuBackend


@dataclass(frozen=True)
class BackendPolicy:
    cpu: CpuBackend = field(default_factory=CpuBackend)
    accelerator: Backend | None = None
    accelerated_models: tuple[str, ...] = ()  # empty: every model goes to the accelerator
    fallback_to_cpu: bool = False

    def for_model(self, model: str) -> Backend:
        if self.accelerator is not None and (not self.accelerated_models or model in self.accelerated_models):
            return self.accelerator
        return self.cpu


def policy_from_config(backend_config, threads: int) -> BackendPolicy:
    """Build the policy from config.BackendConfig (kind, library, options, models, fallback_to_cpu)."""
    from edge_face.backends.delegate import make_delegate_backend

    cpu = CpuBackend(threads)
    if backend_config.kind == "cpu":
        return BackendPolicy(cpu=cpu)
    accelerator = make_delegate_backend(backend_config.kind, backend_config.library, dict(backend_config.options),
                                        threads)
    return BackendPolicy(cpu=cpu, accelerator=accelerator, accelerated_models=tuple(backend_config.models),
                         fallback_to_cpu=backend_config.fallback_to_cpu)
