"""What can go wrong with a camera, below every source and the owner (so no source imports another)."""
from __future__ import annotations


class CameraError(RuntimeError):
    """The source cannot be opened or stopped delivering frames."""


class NoCamera(CameraError):
    """This device has no camera configured (camera.source = none): the camera endpoints do not exist here."""
