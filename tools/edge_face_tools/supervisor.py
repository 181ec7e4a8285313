"""A small stand-in for what systemd does for edge-face.socket + edge-face.service, for the soak benchmark and the
tests on machines where systemd is not PID 1: it holds the listening socket (so connections queue in the kernel
while the service is down), passes it as fd 3 with LISTEN_FDS/LISTEN_PID, gives the child a real $NOTIFY_SOCKET,
restarts it RestartSec= after it dies, and records what the child told it (READY=1, WATCHDOG=1, STATUS=...).

It is the same protocol as systemd's, so the code path of the service under test is the production one.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# Moves the socket to fd 3 and sets LISTEN_PID to its own pid, which exec keeps: LISTEN_PID must name the process
# that finally runs the service (a shell cannot: dash refuses file descriptors above 9).
_TRAMPOLINE = ("import os, sys; fd = int(sys.argv[1]); os.dup2(fd, 3); fd != 3 and os.close(fd); "
               "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1'); os.execvp(sys.argv[2], sys.argv[2:])")


class Supervisor:
    def __init__(self, argv: list[str] | None = None, *, env: dict[str, str] | None = None,
                 host: str = "127.0.0.1", port: int = 0, restart_sec: float = 1.0,
                 watchdog_sec: float | None = None, log: Path | None = None) -> None:
        self.argv = argv or [sys.executable, "-m", "edge_face.cli", "serve"]
        self.env = dict(os.environ if env is None else env)
        self.restart_sec = restart_sec
        self.watchdog_sec = watchdog_sec
        self.log_path = log
        self.listener = socket.create_server((host, port), backlog=128)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self._dir = tempfile.TemporaryDirectory(prefix="edge-face-notify-")
        self.notify_path = os.path.join(self._dir.name, "notify")
        self.notify_sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify_sock.bind(self.notify_path)
        self.notify_sock.settimeout(0.2)
        self.messages: list[tuple[float, int, str]] = []  # (time, pid, message)
        self.starts: list[tuple[float, int]] = []
        self.exits: list[tuple[float, int, int]] = []  # (time, pid, returncode)
        self.proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._receive, daemon=True),
                         threading.Thread(target=self._keep_running, daemon=True)]

    # --- lifecycle ------------------------------------------------------------------------------------------------
    def start(self) -> "Supervisor":
        self._spawn()
        for t in self._threads:
            t.start()
        return self

    def _spawn(self) -> None:
        env = {**self.env, "NOTIFY_SOCKET": self.notify_path}
        env.pop("WATCHDOG_PID", None)
        if self.watchdog_sec:
            env["WATCHDOG_USEC"] = str(int(self.watchdog_sec * 1e6))
        fd = self.listener.fileno()
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, "-c", _TRAMPOLINE, str(fd), *self.argv], env=env, pass_fds=(fd,),
                                stdout=out, stderr=subprocess.STDOUT)
        if self.log_path:
            out.close()
        with self._lock:
            self.proc = proc
            self.starts.append((time.monotonic(), proc.pid))

    def _keep_running(self) -> None:
        """Restart=always with RestartSec=; and WatchdogSec=: SIGABRT a child that stopped pinging."""
        while not self._stop.is_set():
            proc = self.proc
            assert proc is not None
            try:
                code = proc.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                if self.watchdog_sec and self._watchdog_expired(proc.pid):
                    proc.send_signal(signal.SIGABRT)
                continue
            with self._lock:
                self.exits.append((time.monotonic(), proc.pid, code))
            if self._stop.wait(self.restart_sec):
                return
            self._spawn()

    def _watchdog_expired(self, pid: int) -> bool:
        with self._lock:
            pings = [t for t, p, m in self.messages if p == pid and "WATCHDOG=1" in m.split("\n")]
            started = next(t for t, p in self.starts if p == pid)
            ready = [t for t, p, m in self.messages if p == pid and "READY=1" in m.split("\n")]
        if not ready:
            return False  # systemd's watchdog starts with READY=1; start-up has TimeoutStartSec= instead
        last = max(pings + ready + [started])
        return time.monotonic() - last > self.watchdog_sec

    def _receive(self) -> None:
        self.notify_sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        while not self._stop.is_set():
            try:
                data, anc, _, _ = self.notify_sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except socket.timeout:
                continue
            except OSError:
                return
            pid = 0
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = int.from_bytes(payload[:4], sys.byteorder)
            with self._lock:
                self.messages.append((time.monotonic(), pid, data.decode("utf-8", "replace")))

    def stop(self) -> None:
        self._stop.set()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for t in self._threads:
            t.join(timeout=5)
        self.listener.close()
        self.notify_sock.close()
        self._dir.cleanup()

    # --- queries --------------------------------------------------------------------------------------------------
    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self, sig: int = signal.SIGKILL) -> int:
        """Kill the running service process (a crash); returns its pid."""
        pid = self.pid
        os.kill(pid, sig)
        return pid

    def said(self, pid: int, line: str) -> list[float]:
        """When process `pid` sent a message containing `line` (e.g. "READY=1")."""
        with self._lock:
            return [t for t, p, m in self.messages if p == pid and line in m.split("\n")]

    def wait_for(self, line: str, *, pid: int | None = None, timeout: float = 120.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.proc
            current = pid if pid is not None else (proc.pid if proc else 0)
            hits = self.said(current, line)
            if hits:
                return hits[0]
            time.sleep(0.05)
        raise TimeoutError(f"no {line!r} from the service within {timeout:g} s")
