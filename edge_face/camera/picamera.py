"""A Raspberry Pi camera through picamera2 (libcamera). Imported only when [camera] source = "picamera2".

picamera2 is not on PyPI's manylinux path and needs the Pi's libcamera, so it is not a dependency of edge_face:
install Raspberry Pi OS's python3-picamera2 and create the venv with --system-site-packages. It cannot run off a Pi,
so this module is kept to the few calls below (untested here; the owner's timeouts still guard it).
"""
from __future__ import annotations

import time

import numpy as np

from edge_face.camera.errors import CameraError


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
                                                    controls={"FrameRate": float(self.fps)})
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
