"""The single owner of the camera: one process (a lock file), one session at a time, a deadline on every frame.

Why a capture thread: a camera read can block for ever (a device that hangs, a pipe nobody writes) and such a call
cannot be interrupted from Python. So the source is read only by the owner's capture thread, which publishes the
newest frame; sessions and the preview wait for a frame with a deadline. A missed deadline raises CameraTimeout
and abandons that thread (it exits when its read returns, its frames ignored); the next request opens a fresh
source. (An abandoned thread may still hold the device until its read returns: a V4L2 camera that allows one
streamer answers 6000 until then.) The thread also closes the source after `idle_seconds` without demand, so the
camera is not kept running.
Frames stay in memory: nothing here writes or logs them.
"""
from __future__ import annotations

import atexit
import errno
import fcntl
import hashlib
import logging
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from edge_face.camera.errors import CameraError
from edge_face.camera.sources import CameraSource

log = logging.getLogger("edge_face.camera")


class CameraBusy(CameraError):
    """Another process owns the camera, or another session kept it too long."""


class CameraTimeout(CameraError):
    """The source did not deliver a frame in time."""


def lock_path(lock_dir: str, kind: str, target: str) -> Path:
    """One lock file per camera (kind and device or file), in a runtime folder shared by the device's processes."""
    folder = lock_dir or os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0] or \
        os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    name = hashlib.sha256(f"{kind}:{target}".encode()).hexdigest()[:16]
    return Path(folder) / f"edge-face-camera-{name}.lock"


class ProcessLock:
    """An exclusive flock on a file holding the owner's pid; the kernel drops it when the process dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            owner = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                raise CameraBusy(f"the camera is owned by another process (pid {owner})") from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor releases the flock
            self._fd = None


_captures: "weakref.WeakSet[_Capture]" = weakref.WeakSet()


@atexit.register
def _stop_captures(wait: float = 3.0) -> None:
    """Let capture threads leave the camera library before the interpreter ends: a daemon thread torn down inside
    OpenCV's C++ aborts the whole process ("FATAL: exception not rethrown")."""
    captures = list(_captures)
    for capture in captures:
        capture.stopping = True
    deadline = time.monotonic() + wait
    for capture in captures:
        capture.join(max(0.0, deadline - time.monotonic()))


class _Capture(threading.Thread):
    """Opens one source object and reads it until told to stop, abandoned, idle, or the source fails."""

    def __init__(self, owner: "CameraOwner", source: CameraSource) -> None:
        super().__init__(name="edge-face-camera", daemon=True)
        self.owner, self.source = owner, source
        self.delivered = 0
        self.stopping = False
        _captures.add(self)

    def run(self) -> None:
        try:
            self.source.open()
            while not self.stopping:
                t, frame = self.source.read()
                if self.stopping or not self.owner._deliver(self, t, frame):
                    break
        except Exception as exc:  # noqa: BLE001 - any failure of a source ends this capture; the owner reopens
            self.owner._failed(self, exc)
        finally:
            try:
                self.source.close()
            except Exception:  # noqa: BLE001
                log.warning("closing the camera source failed", exc_info=True)


class CameraOwner:
    """Serialises camera sessions in this process and holds the camera's process lock.

    `factory` makes a fresh source object each time the camera is (re)opened."""

    def __init__(self, factory: Callable[[], CameraSource], lock: ProcessLock, kind: str, *,
                 capture_timeout: float = 2.0, open_timeout: float = 5.0, idle_seconds: float = 30.0) -> None:
        self.factory, self.lock, self.kind = factory, lock, kind
        self.capture_timeout, self.open_timeout, self.idle_seconds = capture_timeout, open_timeout, idle_seconds
        self._cond = threading.Condition()
        self._session = threading.Lock()
        self._capture: _Capture | None = None
        self._frame: tuple[int, float, np.ndarray] | None = None  # (sequence, source time, BGR)
        self._seq = 0
        self._demand = 0.0
        self._state = "closed"
        self._error = ""
        self.timeouts = 0
        self.sessions = 0
        try:
            lock.acquire()
        except CameraBusy as exc:
            self._state, self._error = "busy", str(exc)

    # ---------------------------------------------------------------- capture thread side

    def _deliver(self, capture: _Capture, t: float, frame: np.ndarray) -> bool:
        with self._cond:
            if capture is not self._capture:
                return False  # abandoned after a timeout, or replaced
            if time.monotonic() - self._demand > self.idle_seconds:
                self._capture, self._frame, self._state = None, None, "closed"
                return False
            self._seq += 1
            self._frame = (self._seq, t, frame)
            capture.delivered += 1
            self._state = "open"
            self._cond.notify_all()
            return True

    def _failed(self, capture: _Capture, exc: Exception) -> None:
        with self._cond:
            if capture is self._capture:
                self._capture, self._frame = None, None
                self._state = "failed"
                self._error = str(exc) if isinstance(exc, CameraError) else f"{type(exc).__name__} in the source"
                self._cond.notify_all()

    # ---------------------------------------------------------------- consumers

    def next_frame(self, after: int = 0) -> tuple[int, float, np.ndarray]:
        """The first frame newer than sequence `after` (the newest one for after=0), within the deadline."""
        with self._cond:
            try:
                self.lock.acquire()
            except CameraBusy as exc:
                self._state, self._error = "busy", str(exc)
                raise
            self._demand = time.monotonic()
            capture = self._capture
            if capture is None:
                capture = self._capture = _Capture(self, self.factory())
                self._frame, self._state = None, "opening"
                capture.start()
            timeout = self.capture_timeout if capture.delivered else self.open_timeout
            deadline = time.monotonic() + timeout
            while True:
                if self._capture is not capture:
                    raise CameraError(f"the camera failed: {self._error}")
                if self._frame is not None and self._frame[0] > after:
                    return self._frame
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._capture, self._frame = None, None  # abandoned: its late frames are ignored
                    self._state, self._error = "timeout", f"no frame within {timeout:g} s"
                    self.timeouts += 1
                    log.warning("camera: no frame within %.1f s, the source will be reopened", timeout)
                    raise CameraTimeout(f"the camera delivered no frame within {timeout:g} s")
                self._cond.wait(remaining)

    def frames(self, seconds: float, sample_fps: float) -> Iterator[tuple[float, np.ndarray]]:
        """Live frames for `seconds` of source time, about `sample_fps` a second, timed from the first one.
        Slow consumers skip frames rather than fall behind."""
        step = 0.9 / sample_fps  # a little under the period, so a 15-fps camera gives 7.5 and not 5 a second
        seq, t0, next_t = 0, None, 0.0
        while True:
            seq, t, frame = self.next_frame(seq)
            if t0 is None:
                t0 = t
            rel = t - t0
            if rel > seconds:
                return
            if rel >= next_t:
                next_t = rel + step
                yield rel, frame

    @contextmanager
    def session(self, wait: float) -> Iterator[None]:
        """One session at a time; a request that waits longer than `wait` seconds for the camera is refused."""
        if not self._session.acquire(timeout=wait):
            raise CameraBusy("another camera session is running")
        try:
            self.sessions += 1
            yield
        finally:
            self._session.release()

    def describe(self) -> dict:
        """The camera's state for /readyz: closed, opening, open, busy (another process), failed or timeout."""
        with self._cond:
            out: dict = {"state": self._state, "source": self.kind, "sessions": self.sessions,
                         "timeouts": self.timeouts}
            if self._state in ("busy", "failed", "timeout"):
                out["error"] = self._error
            return out

    def close(self, wait: float = 2.0) -> None:
        """Stop capturing and give the camera up (its capture thread exits after its current read)."""
        with self._cond:
            capture = self._capture
            self._capture, self._frame, self._state = None, None, "closed"
            self._cond.notify_all()
        if capture is not None:
            capture.stopping = True
            capture.join(wait)
        self.lock.release()
