"""What an accelerator's delegate needs: library, default options, model requirements, install hint."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DelegateSpec:
    name: str  # the configuration's `backend.kind`
    library: str  # file name searched on the loader path, or an absolute path
    options: dict[str, str] = field(default_factory=dict)
    model_requirement: str = ""
    install_hint: str = ""
