"""The systemd protocols the appliance speaks, with the standard library only: sd_notify (READY, WATCHDOG, STATUS),
socket activation (LISTEN_FDS) and the journal's native protocol (structured fields such as REQUEST_ID).

Each is a no-op (or reports that it is not there) outside systemd, so `edge-face serve` runs the same by hand.
"""
from __future__ import annotations

import logging
import os
import socket
import struct
import sys
from collections.abc import Mapping

SD_LISTEN_FDS_START = 3
JOURNAL_SOCKET = "/run/systemd/journal/socket"


def _unix_address(path: str) -> str:
    return "\0" + path[1:] if path.startswith("@") else path  # "@name": Linux abstract namespace


def notify(message: str, env: Mapping[str, str] | None = None) -> bool:
    """Send "READY=1", "WATCHDOG=1", "STATUS=..." (newline-separated for several) to $NOTIFY_SOCKET.

    False when not started by systemd (no $NOTIFY_SOCKET) or when the socket refuses it; never raises, since a
    lost notification must not take the service down (systemd then acts on the missing ping, as it should)."""
    env = os.environ if env is None else env
    address = env.get("NOTIFY_SOCKET")
    if not address:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(_unix_address(address))
            sock.sendall(message.encode("utf-8"))
        return True
    except OSError:
        return False


def watchdog_seconds(env: Mapping[str, str] | None = None) -> float | None:
    """The WatchdogSec= systemd set for this process ($WATCHDOG_USEC, $WATCHDOG_PID), or None."""
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC")
    pid = env.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1e6 if value > 0 else None


def listen_sockets(env: dict[str, str] | None = None) -> list[socket.socket]:
    """The sockets systemd passed (edge-face.socket), so connections wait in the kernel's queue while the service
    restarts; [] when not socket-activated. The variables are removed so child processes do not inherit them."""
    env = os.environ if env is None else env
    if env.get("LISTEN_PID") != str(os.getpid()):
        return []
    try:
        count = int(env.get("LISTEN_FDS", "0"))
    except ValueError:
        return []
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        env.pop(name, None)
    sockets = []
    for fd in range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + count):
        os.set_inheritable(fd, False)
        sockets.append(socket.socket(fileno=fd))
    return sockets


def stderr_is_journal(env: Mapping[str, str] | None = None) -> bool:
    """systemd connects stderr to the journal and says so in $JOURNAL_STREAM ("device:inode")."""
    env = os.environ if env is None else env
    stream = env.get("JOURNAL_STREAM", "")
    try:
        dev, ino = (int(x) for x in stream.split(":"))
        st = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


def journal_fields(record: logging.LogRecord, message: str, identifier: str) -> dict[str, str]:
    fields = {
        "MESSAGE": message,
        "PRIORITY": str(_PRIORITY.get(record.levelno, 6)),
        "SYSLOG_IDENTIFIER": identifier,
        "LOGGER": record.name,
        "CODE_FILE": record.pathname,
        "CODE_LINE": str(record.lineno),
        "CODE_FUNC": record.funcName,
    }
    request_id = getattr(record, "request_id", None)
    if request_id:
        fields["REQUEST_ID"] = str(request_id)
    return fields


def encode_journal(fields: Mapping[str, str]) -> bytes:
    """The native protocol: KEY=value lines, or KEY\\n<64-bit LE length><bytes>\\n for values with newlines."""
    out = bytearray()
    for key, value in fields.items():
        data = value.encode("utf-8", "replace")
        if b"\n" in data:
            out += key.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            out += key.encode() + b"=" + data + b"\n"
    return bytes(out)


class JournalHandler(logging.Handler):
    """Log records as journal entries with fields (REQUEST_ID, LOGGER, CODE_*); falls back to stderr if the
    journal socket refuses a datagram (too large, journald restarting)."""

    def __init__(self, identifier: str = "edge-face", path: str = JOURNAL_SOCKET) -> None:
        super().__init__()
        self.identifier = identifier
        self._address = _unix_address(path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            self._sock.sendto(encode_journal(journal_fields(record, message, self.identifier)), self._address)
        except OSError:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)

    def close(self) -> None:
        self._sock.close()
        super().close()
