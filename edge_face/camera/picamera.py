"""A Raspberry Pi camera through picamera2 (libcamera). Imported only when [camera] source = "picamera2".

picamera2 is not on PyPI's manylinux path and needs the Pi's libcamera, so it is not a dependency of edge_face:
install Raspberry Pi OS's python3-picamera2 and create the venv with --system-site-packages. It cannot run off a Pi,
so this module is kept to the few calls below (untested here; the owner's timeouts still guard it).
"""
from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from edge_face.camera.errors import CameraError

# libcamera's AfModeEnum (Manual 0, Auto 1, Continuous 2), as an int so that this module needs no libcamera import
AF_CONTINUOUS = 2


def controls_for(available: Mapping[str, object], fps: float) -> dict[str, object]:
    """The controls a kiosk's camera is started with, among those it has (Picamera2.camera_controls).
    Continuous autofocus where the lens has it (Camera Module 3): MiniFASNet reads a defocused live face as a
    print (a blur of 0.4% of the frame's height rejects 4 of liveness-dev's 26 live videos:
    benchmarks/liveness_conditions.py --conditions defocus), and a person stands anywhere from an arm's length to
    a step back; a fixed-focus module has no AfMode and keeps its factory focus (setting it there fails).
    FrameRate is picamera2's own name for libcamera's FrameDurationLimits, which every camera has."""
    wanted: dict[str, object] = {"FrameRate": float(fps)}
    if "AfMode" in available:
        wanted["AfMode"] = AF_CONTINUOUS
    return wanted


class PiCamera:
    kind = "picamera2"

    def __init__(self, width: int = 640, height: int = 480, fps: float = 15.0) -> None:
        self.width, self.height, self.fps = width, height, fps
        self._cam = None

    def open(self) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise CameraError("camera.source = picamera2 needs the picamera2 package (Raspberry Pi OS: "
                              "apt install python3-picamera2, venv with --system-site-packages)") from None
        try:
            cam = Picamera2()
            # libcamera's "RGB888" is B, G, R in memory: what OpenCV calls BGR.
            config = cam.create_video_configuration(main={"size": (self.width, self.height), "format": "RGB888"},
                                                    controls=controls_for(cam.camera_controls, self.fps))
            cam.configure(config)
            cam.start()
        except Exception as exc:  # noqa: BLE001 - libcamera raises many kinds; all mean "no camera"
            raise CameraError(f"the Pi camera cannot be opened ({type(exc).__name__})") from None
        self._cam = cam

    def read(self) -> tuple[float, np.ndarray]:
        if self._cam is None:
            raise CameraError("the camera is not open")
        frame = self._cam.capture_array("main")
        return time.monotonic(), np.ascontiguousarray(frame[:, :, :3])

    def close(self) -> None:
        if self._cam is not None:
            try:
                self._cam.stop()
                self._cam.close()
            finally:
                self._cam = None
