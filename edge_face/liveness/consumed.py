"""The ids of liveness packages already used by 1.3 (API.md: a package proves one liveness check once, also after a
restart).

One append-only file under the state directory: fixed 40-byte records, SHA-256 of (device id, session id) then the
unix ms after which the package is refused anyway (its expiry), so nothing of a face, a photo or even the session id
itself is kept. Each record is fsync'd before the package is accepted. Threads share an in-memory set; processes
(a second server on the same state directory) share the file under an exclusive flock, as the camera owner does, and
read each other's appends before deciding. Expired records are dropped when the store is opened and whenever the
file has grown by `compact_every` records: rewritten to a new file and renamed over the old one (readers notice the
new inode and read it from the start).
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

RECORD = struct.Struct(">32sq")  # id digest, refused-after unix ms
FILE_NAME = "consumed-packages"


def default_state_dir() -> Path:
    """$STATE_DIRECTORY (systemd's StateDirectory=), else $XDG_STATE_HOME/edge-face or ~/.local/state/edge-face."""
    systemd = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    if systemd:
        return Path(systemd)
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "edge-face"


def _digest(device_id: str, session_id: bytes) -> bytes:
    return hashlib.sha256(b"edge_face consumed\0" + device_id.encode("utf-8") + b"\0" + session_id).digest()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ConsumedStore:
    """consume() says True exactly once per package id across threads, processes and restarts."""

    def __init__(self, folder: Path, clock: Callable[[], float] = time.time, compact_every: int = 4096) -> None:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = folder / FILE_NAME
        self._lock_path = folder / (FILE_NAME + ".lock")
        self._clock = clock
        self._compact_every = compact_every
        self._mutex = threading.Lock()
        self._seen: dict[bytes, int] = {}
        self._inode: tuple[int, int] | None = None
        self._offset = 0
        self._appended = 0
        with self._mutex, self._locked():
            self._refresh()
            self._compact()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # blocks: another process holds it for one append at most
            yield
        finally:
            os.close(fd)  # releases the flock

    def _refresh(self) -> None:
        """Read what was appended (by any process) since the last look; start over if the file was replaced."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._seen, self._inode, self._offset = {}, None, 0
            return
        if (st.st_dev, st.st_ino) != self._inode:
            self._seen, self._inode, self._offset = {}, (st.st_dev, st.st_ino), 0
        if st.st_size <= self._offset:
            return
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            data = fh.read()
        whole = len(data) - len(data) % RECORD.size  # a torn last record (a crash mid-append) is ignored
        for digest, until in RECORD.iter_unpack(data[:whole]):
            self._seen[digest] = until
        self._offset += whole

    def _append(self, record: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size != self._offset:  # drop a torn record so that records stay aligned
                os.ftruncate(fd, self._offset)
            os.write(fd, record)
            os.fsync(fd)
            if size == 0:
                self._inode = (os.fstat(fd).st_dev, os.fstat(fd).st_ino)
        finally:
            os.close(fd)
        if self._offset == 0:
            _fsync_dir(self.path.parent)
        self._offset += len(record)

    def _compact(self) -> None:
        """Rewrite the file without expired records (called with both locks held)."""
        now_ms = int(self._clock() * 1000)
        live = {d: u for d, u in self._seen.items() if u >= now_ms}
        self._appended = 0
        if len(live) == len(self._seen) and self.path.exists():
            return
        tmp = self.path.with_name(FILE_NAME + ".new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"".join(RECORD.pack(d, u) for d, u in live.items()))
            os.fsync(fd)
            st = os.fstat(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)
        self._seen, self._inode, self._offset = live, (st.st_dev, st.st_ino), st.st_size

    def consume(self, device_id: str, session_id: bytes, refused_after_ms: int) -> bool:
        """True the first time this package id is seen (now recorded on disk), False for every later use."""
        digest = _digest(device_id, session_id)
        with self._mutex, self._locked():
            self._refresh()
            if digest in self._seen:
                return False
            self._append(RECORD.pack(digest, refused_after_ms))
            self._seen[digest] = refused_after_ms
            self._appended += 1
            if self._appended >= self._compact_every:
                self._compact()
            return True

    def __len__(self) -> int:
        with self._mutex:
            return len(self._seen)
