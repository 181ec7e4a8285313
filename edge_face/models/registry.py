"""Every model goes through here, so its file is verified and the backend that runs it is always known."""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_face.backends import Backend, CpuBackend, Runner


class ModelError(RuntimeError):
    """A model is missing, altered (sha256 mismatch) or cannot be loaded; the message says which and why."""


@dataclass(frozen=True)
class ModelManifest:
    id: str
    path: Path
    sha256: str
    data: dict[str, Any]  # the whole manifest: source, licence, input/output contract

    @classmethod
    def load(cls, folder: Path) -> "ModelManifest":
        try:
            data = json.loads((folder / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            raise ModelError(f"{folder}/manifest.json: {exc}") from None
        return cls(id=data["id"], path=folder / data["file"], sha256=data["sha256"], data=data)

    def verify(self) -> None:
        if not self.path.is_file():
            raise ModelError(f"model {self.id}: {self.path} is missing (run `make models`?)")
        h = hashlib.sha256(self.path.read_bytes()).hexdigest()
        if h != self.sha256:
            raise ModelError(f"model {self.id}: {self.path.name} has sha256 {h}, manifest pins {self.sha256}")


class ModelRegistry:
    """Loads a model on first use (thread-safe), verifying its sha256, and remembers which backend runs it."""

    def __init__(self, models_dir: Path, backend: Backend | None = None) -> None:
        self.models_dir = Path(models_dir)
        self.backend = backend or CpuBackend()
        self._lock = threading.Lock()
        self._runners: dict[str, Runner] = {}
        self._manifests: dict[str, ModelManifest] = {}

    def manifest(self, model: str) -> ModelManifest:
        with self._lock:
            if model not in self._manifests:
                self._manifests[model] = ModelManifest.load(self.models_dir / model)
            return self._manifests[model]

    def runner(self, model: str) -> Runner:
        runner = self._runners.get(model)
        if runner is not None:
            return runner
        manifest = self.manifest(model)
        with self._lock:
            if model not in self._runners:
                manifest.verify()
                try:
                    self._runners[model] = Runner(manifest.path, self.backend)
                except (RuntimeError, ValueError) as exc:
                    raise ModelError(f"model {model}: cannot load on {self.backend.name}: {exc}") from None
            return self._runners[model]

    def describe(self) -> dict[str, dict[str, str]]:
        """What /readyz reports: each loaded model, its pinned sha256 and the backend actually running it."""
        return {
            name: {"id": self._manifests[name].id, "sha256": self._manifests[name].sha256, "backend": r.backend.name}
            for name, r in self._runners.items()
        }

    def read_json(self, relative: str) -> dict[str, Any]:
        """Data files shipped beside the models (calibrations, variant definitions)."""
        path = self.models_dir / relative
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ModelError(f"{path}: {exc}") from None
