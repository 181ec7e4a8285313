"""Live-camera liveness (edge_face's session) and SenseID 1.3 (a sealed package's face against a photo).

The session runs the same LivenessAnalyser as an uploaded video, on live frames straight from the camera owner,
and seals a package only when the person was found live: a package is the device's word that this face was live
at that time, so 1.3 compares its aligned face exactly as 1.4 compares the selected face of a video.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from edge_face import observability
from edge_face.camera import CameraOwner, CameraTimeout, NoCamera, owner_for
from edge_face.config import Config
from edge_face.liveness.analyse import LivenessResult, NoTrackableFace
from edge_face.liveness.consumed import ConsumedStore, default_state_dir
from edge_face.liveness.package import OpenedPackage, PackageError, PackageSealer, default_device_id, process_key
from edge_face.services.faces import FaceService
from edge_face.services.liveness import SAMPLE_FPS, LivenessService

log = logging.getLogger("edge_face.camera")


@dataclass(frozen=True)
class SessionResult:
    liveness: LivenessResult
    captured_unix: float  # wall-clock time of the selected frame
    package: bytes | None  # sealed; only when the person was found live
    after_last_frame: float | None = None  # seconds from the session's last frame to its verdict (issue 13: <= 0.3)


def _wall_clock(frames: Iterable[tuple[float, np.ndarray]], origin: list[float], ended: list[float]
                ) -> Iterator[tuple[float, np.ndarray]]:
    """Pass frames through, noting the wall-clock time of session time 0 (for the package's capture time) and the
    moment the camera's frames ended (what the person waits for after that is the session's own latency)."""
    for t, frame in frames:
        if not origin:
            origin.append(time.time() - t)
        yield t, frame
    ended.append(time.perf_counter())


class CameraLivenessService:
    """The camera owner (None without a camera), the sealer of this device's packages and the store of the packages
    already used. Needs no model: it is built at once, so /camera/status answers while the models still load."""

    def __init__(self, owner: CameraOwner | None, sealer: PackageSealer, seconds: float, model_variant: str,
                 consumed: ConsumedStore) -> None:
        self.owner, self.sealer, self.seconds, self.model_variant = owner, sealer, seconds, model_variant
        self.consumed = consumed

    @classmethod
    def from_config(cls, config: Config) -> "CameraLivenessService":
        if config.device_key:
            key = bytes.fromhex(config.device_key)
        else:
            log.warning("no device_key configured: liveness packages are sealed under a random key of this process "
                        "and stop opening when it restarts")
            key = process_key()
        cam = config.camera
        sealer = PackageSealer(key, config.device_id or default_device_id(), cam.package_ttl, cam.clock_skew)
        consumed = ConsumedStore(Path(config.state_dir) if config.state_dir else default_state_dir())
        return cls(owner_for(cam), sealer, cam.session_seconds, config.model_variant, consumed)

    def describe(self) -> dict:
        """The camera's state for /readyz and /camera/status ("none" without a camera)."""
        return self.owner.describe() if self.owner is not None else {"state": "none"}

    def require_owner(self) -> CameraOwner:
        """The camera owner; NoCamera (permanent on this device) without one."""
        if self.owner is None:
            raise NoCamera("no camera is configured on this device (camera.source = none)")
        return self.owner

    def session(self, liveness: LivenessService, *, audience: str = "api", nonce: str | None = None,
                turn: str | None = None) -> SessionResult:
        """Analyse `seconds` of live frames; a live result is sealed for `audience` ("api": 1.3, "kiosk": the kiosk's
        verification) and the caller's `nonce`. `turn`: the direction the person was asked to turn their head
        (camera.challenge = "turn", liveness/challenge.py). Raises CameraError (none, busy, failed), CameraTimeout
        and NoTrackableFace (nobody in front of the camera)."""
        owner = self.require_owner()
        origin: list[float] = []
        ended: list[float] = []
        # A waiting session gives up when the running one should long be over.
        with owner.session(wait=self.seconds + owner.open_timeout + 5.0):
            try:
                with observability.stage("camera_session"):
                    frames = _wall_clock(owner.frames(self.seconds, SAMPLE_FPS), origin, ended)
                    result = liveness.analyser.analyse_frames(frames, fixed_camera=True, turn=turn)
            except NoTrackableFace:
                observability.liveness_outcome("no_face")
                raise NoTrackableFace("no face could be tracked in front of the camera") from None
            except CameraTimeout:
                observability.liveness_outcome("camera_timeout")
                raise
        observability.liveness_outcome("live" if result.passed else result.status)
        observability.liveness_decided_by("camera", "live" if result.passed else result.status, result.decided_by)
        captured = origin[0] + result.image_timestamp
        package = None
        if result.passed:
            package = self.sealer.seal(passed=True, score=result.score, status=result.status,
                                       face_seconds=result.face_seconds, frames=result.frames, frame=result.image,
                                       face_rect=result.face_rect, aligned=result.aligned, captured_unix=captured,
                                       model_variant=self.model_variant, audience=audience, nonce=nonce)
        after = time.perf_counter() - ended[0] if ended else None
        if after is not None:
            observability.record_stage("camera_after_last_frame", after)
        log.info("camera liveness: passed=%s score=%.3f status=%s decided_by=%s turn=%s after_last_frame_ms=%s",
                 result.passed, result.score, result.status, result.decided_by, turn or "-",
                 "-" if after is None else f"{after * 1000:.0f}")
        return SessionResult(result, captured, package, after)

    def open_package(self, data: bytes, *, audience: str = "api", nonce: str | None = None) -> OpenedPackage:
        """Raises PackageError (2007) for anything this device did not seal, recently, after a live result, for this
        audience and nonce, and for a package used before. A package is used up when it opens, before the photo is
        looked at: a failed comparison (no face, a bad photo) does not give the caller another try."""
        package = self.sealer.open(data, audience=audience, nonce=nonce)
        if not self.consumed.consume(package.device_id, package.session_id, self.sealer.refused_after_ms(package)):
            raise PackageError("replayed", "the package was used before (a package proves one liveness check once)")
        return package

    def verify_package(self, faces: FaceService, package: OpenedPackage, photo: np.ndarray, *, auto_rotate: bool = False,
                       check_quality: bool = False) -> float:
        """§1.3: the package's live face against the photo's main face, with the calibrated score of 1.1."""
        reference = faces.main_face(photo, "image", auto_rotate=auto_rotate, check_quality=check_quality)
        return faces.score_aligned(package.aligned, reference)
