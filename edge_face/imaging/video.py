"""Video bytes -> timed BGR frames, decoded in memory (OpenCV's FFmpeg stream reader), never written to disk.

Limits are checked in the order that keeps a hostile upload cheap: byte length, then the container's header (frame
size, frame rate, duration as the container declares them), and while decoding the real timestamps and frame count,
since headers can lie (a stream whose frame count reads -1.5e17 is ordinary). mp4, mov, avi, webm, mkv: whatever the
FFmpeg inside opencv-python-headless demuxes.
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from edge_face.config import Limits

MIN_SECONDS = 2.0  # API.md: a video under 2 s is 2008
MAX_SIDE = 4096  # a frame larger than 4K on either side is refused before decoding
DECODE_THREADS = 1
MAX_FPS = 240.0  # decoded frames per second of declared duration, beyond which the stream is a bomb


class VideoError(ValueError):
    """kind: "length" (2004: bytes or duration over the limit) or "invalid" (2008: undecodable or under 2 s)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass(frozen=True)
class VideoInfo:
    """What the container declares (frame_count may be unknown: 0)."""

    width: int
    height: int
    fps: float
    frame_count: int

    @property
    def declared_seconds(self) -> float:
        return self.frame_count / self.fps if self.fps > 0 and self.frame_count > 0 else 0.0


class VideoReader:
    """Opens a video from bytes and yields (timestamp_s, bgr) at about `sample_fps`, checking limits as it goes."""

    def __init__(self, data: bytes, limits: Limits) -> None:
        if len(data) > limits.max_video_bytes:
            raise VideoError("length", f"video is {len(data)} bytes, the limit is {limits.max_video_bytes}")
        if len(data) < 64:
            raise VideoError("invalid", "video is empty or truncated")
        self.limits = limits
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # no warning per broken upload
        self._stream = io.BytesIO(data)  # OpenCV keeps no reference to it: this one must outlive the capture
        # one decoding thread: the service already decodes on a thread of its own beside the analysis
        # (runtime/prefetch.py), and FFmpeg's frame threads cost 10% more CPU on liveness-dev to contend with it
        self._cap = cv2.VideoCapture(self._stream, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, DECODE_THREADS])
        if not self._cap.isOpened():
            raise VideoError("invalid", "video cannot be decoded (unknown container or codec, or truncated)")
        get = self._cap.get
        count = get(cv2.CAP_PROP_FRAME_COUNT)
        self.info = VideoInfo(width=int(get(cv2.CAP_PROP_FRAME_WIDTH)), height=int(get(cv2.CAP_PROP_FRAME_HEIGHT)),
                              fps=float(get(cv2.CAP_PROP_FPS) or 0.0),
                              frame_count=int(count) if 0 < count < 1e9 else 0)
        self.duration = 0.0  # seconds of video decoded so far: last timestamp + one frame
        w, h = self.info.width, self.info.height
        if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE) or w * h > limits.max_image_pixels:
            self.close()
            raise VideoError("invalid", f"video frame size {w}x{h} is outside 1..{MAX_SIDE} px")
        if self.info.declared_seconds > limits.max_video_seconds + 0.5:
            self.close()
            raise VideoError("length", f"video lasts {self.info.declared_seconds:.1f} s, the limit is "
                                       f"{limits.max_video_seconds:g} s")

    def close(self) -> None:
        self._cap.release()

    def frames(self, sample_fps: float = 10.0) -> Iterator[tuple[float, np.ndarray]]:
        """Frames at least 1/sample_fps apart (by their own timestamps); every frame is demuxed and decoded, only
        the kept ones are converted to BGR. Raises VideoError when the stream proves longer than the limit."""
        step = 1.0 / sample_fps
        max_frames = int(MAX_FPS * self.limits.max_video_seconds)
        next_t = 0.0
        decoded = 0
        try:
            while self._cap.grab():
                decoded += 1
                t = float(self._cap.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0
                if t > self.limits.max_video_seconds + 0.5 or decoded > max_frames:
                    raise VideoError("length", f"video lasts more than {self.limits.max_video_seconds:g} s")
                self.duration = t + (1.0 / self.info.fps if self.info.fps > 0 else 0.0)
                if t + 1e-6 < next_t:
                    continue
                ok, bgr = self._cap.retrieve()
                if not ok or bgr is None or bgr.ndim != 3:
                    continue
                next_t = t + step * 0.999
                yield t, bgr
        finally:
            self.close()
