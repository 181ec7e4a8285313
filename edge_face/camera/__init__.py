"""The live camera below the liveness service: sources (sources.py, picamera.py) and their single owner (owner.py)."""
from __future__ import annotations

from edge_face.camera.owner import CameraBusy, CameraOwner, CameraTimeout, ProcessLock, lock_path
from edge_face.camera.errors import CameraError, NoCamera
from edge_face.camera.sources import CameraSource, FileCamera, OpenCVCamera, make_source

__all__ = ["CameraBusy", "CameraError", "CameraOwner", "CameraSource", "CameraTimeout", "FileCamera",
           "NoCamera", "OpenCVCamera", "ProcessLock", "lock_path", "make_source", "owner_for"]


def owner_for(camera) -> CameraOwner | None:
    """The owner of the camera a [camera] configuration names; None for source = "none"."""
    if camera.source == "none":
        return None
    return CameraOwner(lambda: make_source(camera), ProcessLock(lock_path(camera.lock_dir, camera.source, camera.path)),
                       camera.source, capture_timeout=camera.capture_timeout, open_timeout=camera.open_timeout,
                       idle_seconds=camera.idle_seconds)
