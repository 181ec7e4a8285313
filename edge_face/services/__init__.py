"""The use cases (faces, liveness, camera), wired once: `Services.from_config(config)` is the only place that reads
the model variant and builds the models; the HTTP layer, the CLI and the tools hold what it returns.

The models load in the background (seconds on a small board) while the camera and the HTTP layer are already up:
`faces()` and `liveness()` wait for the load, at most `load_wait` seconds, then raise ServiceNotReady. A request
that arrives just after a restart (socket activation hands the new process what queued meanwhile) deserves an
answer, not a 503.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from edge_face.backends import Backend, BackendPolicy, policy_from_config
from edge_face.config import Config
from edge_face.models import ModelRegistry
from edge_face import tuning
from edge_face.runtime import plan
from edge_face.services.camera import CameraLivenessService
from edge_face.services.faces import FaceService
from edge_face.services.liveness import LivenessService

log = logging.getLogger("edge_face.services")

__all__ = ["FaceService", "LivenessService", "CameraLivenessService", "Services", "ServiceNotReady", "wire_faces"]


class ServiceNotReady(RuntimeError):
    """The models are still loading (after `load_wait`) or failed to load (SenseID 5000, HTTP 503)."""


def wire_faces(config: Config, *, variant: str | None = None, calibration: dict | None = None,
               backend: Backend | BackendPolicy | None = None) -> FaceService:
    """The face service of `config` (or of another variant, calibration or backend: the fitters and benchmarks
    ask for those), not yet warmed."""
    config = tuning.resolve(config)
    _, threads, _ = plan(config)  # XNNPACK threads per interpreter: cores / lanes unless configured
    registry = ModelRegistry(config.models_dir, backend or policy_from_config(config.backend, threads))
    return FaceService(registry, variant or config.model_variant, calibration)


@dataclass(frozen=True)
class Models:
    """The services that need the models, built together once they are loaded."""

    faces: FaceService
    liveness: LivenessService


class Services:
    """Everything a running edge_face uses, built from one configuration."""

    def __init__(self, config: Config, camera: CameraLivenessService, *, load_wait: float = 30.0) -> None:
        self.config = config
        self.camera = camera
        self.load_wait = load_wait
        self._models: Models | None = None
        self._failed = False
        self._lock = threading.Lock()
        self._settled = threading.Event()  # set once loaded or failed

    @classmethod
    def from_config(cls, config: Config, faces: FaceService | None = None) -> "Services":
        """The services of `config`, models not loaded yet (load() or load_in_background()). `faces` reuses a face
        service already loaded (tests run several servers on one set of models)."""
        config = tuning.resolve(config)  # "auto" -> the variant tuned for this CPU, once, before anything is built
        services = cls(config, CameraLivenessService.from_config(config), load_wait=config.request_timeout or 30.0)
        if faces is not None:
            services._set(services._build(faces))
        return services

    def _build(self, faces: FaceService) -> Models:
        liveness = LivenessService(faces, self.config.limits)
        return Models(faces, liveness)

    def _set(self, models: Models) -> None:
        with self._lock:
            self._models = models
        self._settled.set()

    def load(self) -> None:
        """Load and warm every model (face, quality, liveness) before anyone is told the service is ready."""
        faces = wire_faces(self.config)
        faces.warm_up()
        models = self._build(faces)
        models.liveness.warm_up()
        self._set(models)

    def load_in_background(self) -> threading.Thread:
        def run() -> None:
            try:
                self.load()
            except Exception:  # noqa: BLE001 - reported by /readyz and the log, the process stays up
                log.exception("loading the face service failed")
                with self._lock:
                    self._failed = True
                self._settled.set()
                return
            log.info("face service ready")

        thread = threading.Thread(target=run, name="edge-face-load", daemon=True)
        thread.start()
        return thread

    @property
    def status(self) -> str:
        """"ready", "loading" or "failed"."""
        with self._lock:
            return "ready" if self._models is not None else "failed" if self._failed else "loading"

    def peek(self) -> Models | None:
        """The loaded models now, without waiting (None while loading or after a failure)."""
        with self._lock:
            return self._models

    def models(self) -> Models:
        models = self.peek()
        if models is None and self._settled.wait(self.load_wait):
            models = self.peek()
        if models is None:
            raise ServiceNotReady(f"service not ready ({self.status})")
        return models

    def faces(self) -> FaceService:
        return self.models().faces

    def liveness(self) -> LivenessService:
        return self.models().liveness
