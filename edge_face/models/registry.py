"""Every model goes through here, so its file is verified and the backend that runs it is always known."""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_face.backends import Backend, BackendPolicy, CpuBackend, DelegateError, Runner

log = logging.getLogger("edge_face.models")


class ModelError(RuntimeError):
    """A model is missing, altered (sha256 mismatch) or cannot be loaded; the message says which and why."""


@dataclass(frozen=True)
class ModelContract:
    """What code must know about a model beyond its tensors, as data: the model build writes it into the manifest
    (`contract`), so consumers read it instead of guessing from folder or tensor names."""

    model: str  # the model's folder, for messages
    family: str | None = None  # embedders: which embedder runs it (edge_face.pipeline.embed.EMBEDDERS)
    outputs: dict[str, str] = field(default_factory=dict)  # role -> exact output tensor name
    crop_scale: float | None = None  # MiniFASNet: the face box is scaled about its centre by this before the crop

    @classmethod
    def from_dict(cls, model: str, data: dict[str, Any]) -> "ModelContract":
        unknown = set(data) - {"family", "outputs", "crop_scale"}
        if unknown:
            raise ModelError(f"model {model}: unknown contract keys {sorted(unknown)} in manifest.json")
        family, outputs, scale = data.get("family"), data.get("outputs", {}), data.get("crop_scale")
        if family is not None and not isinstance(family, str):
            raise ModelError(f"model {model}: contract.family must be a string, not {family!r}")
        if not isinstance(outputs, dict) or not all(isinstance(v, str) for v in outputs.values()):
            raise ModelError(f"model {model}: contract.outputs must map roles to output names, not {outputs!r}")
        if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0):
            raise ModelError(f"model {model}: contract.crop_scale must be a positive number, not {scale!r}")
        return cls(model, family, dict(outputs), None if scale is None else float(scale))

    def output(self, role: str) -> str:
        """The exact name of the output playing `role`."""
        try:
            return self.outputs[role]
        except KeyError:
            raise ModelError(f"model {self.model}: manifest.json names no {role!r} output (contract.outputs)") from None

    def require_crop_scale(self) -> float:
        if self.crop_scale is None:
            raise ModelError(f"model {self.model}: manifest.json has no contract.crop_scale")
        return self.crop_scale


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

    @property
    def contract(self) -> ModelContract:
        return ModelContract.from_dict(self.path.parent.name, self.data.get("contract", {}))

    def verify(self) -> None:
        if not self.path.is_file():
            raise ModelError(f"model {self.id}: {self.path} is missing (run `make models`?)")
        h = hashlib.sha256(self.path.read_bytes()).hexdigest()
        if h != self.sha256:
            raise ModelError(f"model {self.id}: {self.path.name} has sha256 {h}, manifest pins {self.sha256}")


class ModelRegistry:
    """Loads a model on first use (thread-safe), verifying its sha256, and remembers which backend runs it."""

    def __init__(self, models_dir: Path, backend: Backend | BackendPolicy | None = None) -> None:
        self.models_dir = Path(models_dir)
        if backend is None:
            backend = BackendPolicy()
        elif not isinstance(backend, BackendPolicy):
            backend = BackendPolicy(cpu=backend) if isinstance(backend, CpuBackend) else BackendPolicy(accelerator=backend)
        self.policy = backend
        self._lock = threading.Lock()
        self._runners: dict[str, Runner] = {}
        self._manifests: dict[str, ModelManifest] = {}
        self._fallbacks: dict[str, str] = {}  # model -> why its accelerator was not used

    def manifest(self, model: str) -> ModelManifest:
        with self._lock:
            if model not in self._manifests:
                self._manifests[model] = ModelManifest.load(self.models_dir / model)
            return self._manifests[model]

    def contract(self, model: str) -> ModelContract:
        """The model's contract from its manifest (family, output roles, crop scale)."""
        return self.manifest(model).contract

    def runner(self, model: str) -> Runner:
        runner = self._runners.get(model)
        if runner is not None:
            return runner
        manifest = self.manifest(model)
        with self._lock:
            if model not in self._runners:
                manifest.verify()
                self._runners[model] = self._load(model, manifest)
            return self._runners[model]

    def _load(self, model: str, manifest: ModelManifest) -> Runner:
        backend = self.policy.for_model(model)
        try:
            runner = Runner(manifest.path, backend)
        except DelegateError as exc:
            if not self.policy.fallback_to_cpu:
                raise ModelError(f"model {model}: {exc}") from None
            log.warning("model %s runs on the CPU, not on %s (configured fallback): %s", model, backend.name, exc)
            self._fallbacks[model] = f"{backend.name}: {exc}"
            runner = Runner(manifest.path, self.policy.cpu)
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"model {model}: cannot load on {backend.name}: {exc}") from None
        log.info("model %s (%s) runs on %s", model, manifest.id, runner.backend.name)
        return runner

    def describe(self) -> dict[str, dict[str, str]]:
        """What /readyz reports: each loaded model, its pinned sha256 and the backend actually running it."""
        out = {}
        for name, r in self._runners.items():
            out[name] = {"id": self._manifests[name].id, "sha256": self._manifests[name].sha256,
                         "backend": r.backend.name}
            if name in self._fallbacks:
                out[name]["fallback_from"] = self._fallbacks[name]
        return out

    def read_json(self, relative: str) -> dict[str, Any]:
        """Data files shipped beside the models (calibrations, variant definitions)."""
        path = self.models_dir / relative
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ModelError(f"{path}: {exc}") from None
