"""Camera sources: something that opens, hands out one timed BGR frame per read() and closes.

read() may block (a camera that stops delivering, a device that hangs): the owner (owner.py) calls it from its own
capture thread and bounds every wait, so a source needs no timeout of its own. Timestamps are seconds on the
source's own clock: the monotonic clock for a live camera, the play position for a video file, so that a file
played faster than real time still looks like the seconds it shows.
"""
from __future__ import annotations

import time
from typing import Protocol

import cv2
import numpy as np

from edge_face.camera.errors import CameraError


class CameraSource(Protocol):
    kind: str

    def open(self) -> None: ...
    def read(self) -> tuple[float, np.ndarray]: ...
    def close(self) -> None: ...


def _fit(bgr: np.ndarray, width: int, height: int) -> np.ndarray:
    """Frames larger than the configured size are scaled down to fit it (the analysis tracks at 320 px anyway)."""
    h, w = bgr.shape[:2]
    scale = min(width / w, height / h)
    if scale >= 1.0:
        return bgr
    return cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


class FileCamera:
    """A video file posing as a camera, looping: in real time (speed 1), `speed` times faster, or as fast as the
    frames decode (speed 0). For tests and demos; the file is only read. Not a FIFO: FFmpeg's open of a pipe
    nobody writes blocks while holding a lock that every other video decode of the process needs."""

    kind = "file"

    def __init__(self, path: str, width: int = 640, height: int = 480, speed: float = 1.0) -> None:
        self.path, self.width, self.height, self.speed = path, width, height, speed
        self._cap: cv2.VideoCapture | None = None
        self._fps = 0.0
        self._offset = 0.0  # play time of the loops before this one
        self._pos = 0  # frames read in this loop
        self._started = 0.0  # monotonic time at play time 0

    def open(self) -> None:
        cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            raise CameraError("the camera video file cannot be opened")
        self._cap = cap
        fps = cap.get(cv2.CAP_PROP_FPS)
        self._fps = float(fps) if fps and 0 < fps < 240 else 25.0
        self._offset, self._pos, self._started = 0.0, 0, time.monotonic()

    def read(self) -> tuple[float, np.ndarray]:
        if self._cap is None:
            raise CameraError("the camera is not open")
        ok, frame = self._cap.read()
        if not ok:  # the end: loop
            if self._pos == 0:
                raise CameraError("the camera video file has no frames")
            self._offset += self._pos / self._fps
            self._pos = 0
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
            if not ok:
                raise CameraError("the camera video file cannot be read again")
        t = self._offset + self._pos / self._fps
        self._pos += 1
        if self.speed > 0:
            delay = self._started + t / self.speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        return t, _fit(frame, self.width, self.height)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class OpenCVCamera:
    """A V4L2 camera through OpenCV (USB webcams, most Linux boards). `device` is a path or an index."""

    kind = "opencv"

    def __init__(self, device: str, width: int = 640, height: int = 480, fps: float = 15.0) -> None:
        self.device, self.width, self.height, self.fps = device or "0", width, height, fps
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        target: int | str = int(self.device) if self.device.isdigit() else self.device
        cap = cv2.VideoCapture(target, cv2.CAP_V4L2)
        if not cap.isOpened():
            raise CameraError(f"camera {self.device} cannot be opened")
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not one queued seconds ago
        self._cap = cap

    def read(self) -> tuple[float, np.ndarray]:
        if self._cap is None:
            raise CameraError("the camera is not open")
        ok, frame = self._cap.read()
        if not ok or frame is None:
            raise CameraError(f"camera {self.device} delivered no frame")
        return time.monotonic(), _fit(frame, self.width, self.height)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def make_source(camera) -> CameraSource:
    """The source a [camera] configuration names (a fresh object: the owner makes a new one to recover)."""
    if camera.source == "file":
        return FileCamera(camera.path, camera.width, camera.height, camera.speed)
    if camera.source == "opencv":
        return OpenCVCamera(camera.path, camera.width, camera.height, camera.fps)
    if camera.source == "picamera2":
        from edge_face.camera.picamera import PiCamera  # only on a Raspberry Pi, where picamera2 exists

        return PiCamera(camera.width, camera.height, camera.fps)
    raise CameraError(f"no camera source {camera.source!r}")
