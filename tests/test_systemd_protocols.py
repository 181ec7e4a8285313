"""sd_notify, the watchdog, socket activation, the journal protocol and the restart back-off, over real sockets and
real processes (systemd is not PID 1 here: edge_face_tools.supervisor speaks its side of the same protocols)."""
from __future__ import annotations

import logging
import os
import signal
import socket
import struct
import threading
import time

import pytest
import requests

from edge_face import backoff
from edge_face.systemd import encode_journal, listen_sockets, notify, watchdog_seconds
from tests.test_api_ops import VERIFY


@pytest.fixture
def notify_socket(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(5)
    yield str(tmp_path / "notify"), sock
    sock.close()


def _drain(sock: socket.socket, until: str | None = None, timeout: float = 5.0) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            got.append(sock.recv(4096).decode())
        except socket.timeout:
            break
        if until is not None and any(until in m.split("\n") for m in got):
            break
    return got


def test_notify_sends_datagrams_to_the_notify_socket(notify_socket):
    path, sock = notify_socket
    assert notify("READY=1\nSTATUS=ready", {"NOTIFY_SOCKET": path})
    assert sock.recv(4096) == b"READY=1\nSTATUS=ready"
    assert notify("WATCHDOG=1", {}) is False  # not under systemd: nothing to do
    assert notify("WATCHDOG=1", {"NOTIFY_SOCKET": path + ".gone"}) is False  # never raises


def test_notify_abstract_namespace():
    name = f"edge-face-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert notify("WATCHDOG=1", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(100) == b"WATCHDOG=1"


def test_watchdog_seconds():
    assert watchdog_seconds({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert watchdog_seconds({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 30.0
    assert watchdog_seconds({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None  # meant for another process
    assert watchdog_seconds({}) is None and watchdog_seconds({"WATCHDOG_USEC": "x"}) is None


def test_listen_sockets_only_for_this_pid():
    assert listen_sockets({"LISTEN_PID": "1", "LISTEN_FDS": "1"}) == []
    assert listen_sockets({}) == []


def test_journal_native_protocol_over_a_real_socket(tmp_path):
    from edge_face.api.logs import RedactFilter
    from edge_face.systemd import JournalHandler

    fields = {"MESSAGE": "one\ntwo", "PRIORITY": "6"}
    data = encode_journal(fields)
    assert data == b"MESSAGE\n" + struct.pack("<Q", 7) + b"one\ntwo\nPRIORITY=6\n"

    path = str(tmp_path / "journal")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(5)
        handler = JournalHandler("edge-face-test", path)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.addFilter(RedactFilter(["sekrit-key-value"]))
        logger = logging.getLogger("edge_face.test.journal")
        logger.addHandler(handler)
        try:
            logger.warning("done request_id=%s key=%s", "abc123", "sekrit-key-value",
                           extra={"request_id": "abc123"})
            entry = sock.recv(65536)
        finally:
            logger.removeHandler(handler)
            handler.close()
    lines = entry.split(b"\n")
    assert b"MESSAGE=done request_id=abc123 key=[redacted]" in lines
    assert b"PRIORITY=4" in lines and b"REQUEST_ID=abc123" in lines and b"SYSLOG_IDENTIFIER=edge-face-test" in lines
    assert b"sekrit" not in entry


# --- the watchdog thread inside a real server ------------------------------------------------------------------

def test_watchdog_pings_only_while_inference_answers(api, face_service, notify_socket):
    """READY=1 once /readyz and a tiny inference answer; while a model runner hangs (its lock held, as a stuck
    invoke() would hold it), the pings stop and STATUS says why; they resume when it is free again."""
    from urllib.parse import urlparse

    from edge_face.api.watchdog import InferenceProbe, Watchdog, readyz_probe
    from edge_face.services import Services

    path, sock = notify_socket
    port = urlparse(api.url).port
    holder = Services.from_config(api.config, face_service)
    fatal: list[str] = []
    dog = Watchdog(holder, [lambda t: readyz_probe("127.0.0.1", port, t), InferenceProbe(holder)],
                   watchdog_seconds=2.0, on_fatal=fatal.append, notify=lambda m: notify(m, {"NOTIFY_SOCKET": path}))
    assert dog.interval == 1.0 and dog.bound == 0.5
    dog.start()
    try:
        first = _drain(sock, until="WATCHDOG=1")
        assert first[0] == "READY=1\nSTATUS=ready" and "WATCHDOG=1" in first
        lock = face_service.detector.runner._lock
        lock.acquire()
        try:
            _drain(sock, timeout=1.2)  # whatever was in flight
            stalled = _drain(sock, timeout=2.5)
            assert stalled and "WATCHDOG=1" not in stalled, stalled
            assert any(m.startswith("STATUS=not answering: a tiny inference did not finish") for m in stalled)
        finally:
            lock.release()
        resumed = _drain(sock, until="WATCHDOG=1", timeout=10)
        assert "WATCHDOG=1" in resumed and "STATUS=ready" in resumed
    finally:
        dog.stop()
        dog.join(timeout=10)
    assert not fatal and not dog.is_alive()


def test_watchdog_ends_the_process_when_the_models_failed(notify_socket, api_config, tmp_path):
    from dataclasses import replace

    from edge_face.api.watchdog import Watchdog
    from edge_face.services import Services

    path, sock = notify_socket
    holder = Services.from_config(replace(api_config, models_dir=tmp_path))
    holder.load_in_background().join()
    fatal: list[str] = []
    dog = Watchdog(holder, [], watchdog_seconds=2.0, on_fatal=fatal.append,
                   notify=lambda m: notify(m, {"NOTIFY_SOCKET": path}))
    dog.start()
    dog.join(timeout=5)
    assert fatal == ["the face models failed to load (see the log above)"]
    assert sock.recv(4096).decode().startswith("STATUS=the face models failed to load")


# --- the real service process under the systemd stand-in ------------------------------------------------------

def test_socket_activated_service_survives_a_kill_without_losing_a_request(api, photos, tmp_path):
    """`edge-face serve` socket-activated, Type=notify with WatchdogSec=: READY=1 and pings; SIGKILL it; a valid
    request sent while it is down waits in the held socket's queue and is answered by the restarted process."""
    from edge_face_tools.supervisor import Supervisor

    env = {**os.environ, "EDGE_FACE_LOG_FORMAT": "text"}
    sup = Supervisor(env=env, restart_sec=0.5, watchdog_sec=4.0, log=tmp_path / "service.log").start()
    try:
        first_pid = sup.pid
        sup.wait_for("READY=1", pid=first_pid, timeout=120)
        sup.wait_for("WATCHDOG=1", pid=first_pid, timeout=30)
        fields = api.pair((photos / "obama.jpg").read_bytes(), (photos / "obama2.jpg").read_bytes())
        assert requests.post(sup.url + VERIFY, data=fields, timeout=60).json()["code"] == 1000
        sup.kill(signal.SIGKILL)
        time.sleep(0.1)  # the process is gone; the request below arrives while nothing serves the socket
        answer: dict = {}
        t = threading.Thread(target=lambda: answer.update(
            r=requests.post(sup.url + VERIFY, data=fields, timeout=120)))
        t.start()
        t.join(timeout=150)
        resp = answer["r"]
        assert resp.status_code == 200 and resp.json()["code"] == 1000 and resp.json()["verification_score"] > 0.7
        assert sup.pid != first_pid and sup.exits and sup.exits[0][2] == -signal.SIGKILL
        sup.wait_for("READY=1", pid=sup.pid, timeout=60)
        # A clean stop: SIGTERM -> STOPPING=1, exit 0.
        second = sup.pid
        sup.proc.send_signal(signal.SIGTERM)
        assert sup.proc.wait(timeout=30) == 0
        assert sup.said(second, "STOPPING=1")
    finally:
        sup.stop()


def test_service_exits_1_when_models_cannot_load(tmp_path):
    """Under systemd a failed model load ends the process (Restart= and the back-off retry it), instead of a
    process that answers 503 forever without a watchdog ever noticing."""
    from edge_face_tools.supervisor import Supervisor

    env = {**os.environ, "EDGE_FACE_MODELS_DIR": str(tmp_path), "EDGE_FACE_LOG_FORMAT": "text"}
    sup = Supervisor(env=env, restart_sec=30).start()
    try:
        code = sup.proc.wait(timeout=60)
        assert code == 1
        assert not sup.said(sup.pid, "READY=1")
        assert any(m.startswith("STATUS=the face models failed to load") for _, _, m in sup.messages)
    finally:
        sup.stop()


# --- back-off -----------------------------------------------------------------------------------------------------

def test_backoff_doubles_up_to_the_cap_and_a_clean_stop_resets_it(tmp_path):
    slept: list[float] = []
    assert backoff.wait(tmp_path, sleep=slept.append, now=1000) == 0 and slept == []
    for i in range(8):
        backoff.record(tmp_path, "signal" if i % 2 else "watchdog", now=1000 + i)
    delays = [backoff.delay(backoff._load(tmp_path / backoff.STATE_FILE)[:n], 1010, base=1, cap=60, window=600)
              for n in range(1, 9)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff.wait(tmp_path, sleep=slept.append, now=1010) == 60 and slept == [60]
    assert backoff.wait(tmp_path, sleep=slept.append, now=1000 + 7 + 601) == 0  # all older than the window
    backoff.record(tmp_path, "exit-code", now=2000)
    backoff.record(tmp_path, "success", now=2001)
    assert backoff.wait(tmp_path, sleep=slept.append, now=2002) == 0
    (tmp_path / backoff.STATE_FILE).write_text("{damaged")
    assert backoff.wait(tmp_path, sleep=slept.append, now=2003) == 0


def test_backoff_cli_uses_state_directory_and_service_result(tmp_path):
    import subprocess
    import sys

    env = {**os.environ, "STATE_DIRECTORY": str(tmp_path), "SERVICE_RESULT": "watchdog"}
    run = subprocess.run([sys.executable, "-m", "edge_face.cli", "backoff", "record"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "1 failed run(s)" in run.stderr
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "edge_face.cli", "backoff", "wait", "--base", "0.5"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "waited 0.5 s" in run.stderr and time.monotonic() - started >= 0.5


# --- logging as the service configures it ----------------------------------------------------------------------

def test_journal_entries_of_a_request_carry_its_request_id(api, tmp_path):
    """The access line of a real request, through the JournalHandler with the filters configure_logging installs,
    arrives at a journal socket with REQUEST_ID equal to the request_id the client got."""
    from edge_face.api.logs import RedactFilter, RequestIdFilter
    from edge_face.systemd import JournalHandler

    path = str(tmp_path / "journal")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(10)
        handler = JournalHandler("edge-face", path)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.addFilter(RequestIdFilter())
        handler.addFilter(RedactFilter([api.config.aes_key]))
        logger = logging.getLogger("edge_face.api.access")
        old_level = logger.level
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        try:
            resp = api.post(VERIFY, {"first_encrypted_image": "x"})
            rid = resp.json()["request_id"]
            entries = []
            while not any(rid.encode() in e for e in entries):
                entries.append(sock.recv(65536))
        finally:
            logger.removeHandler(handler)
            logger.setLevel(old_level)
            handler.close()
    (entry,) = [e for e in entries if rid.encode() in e]
    fields = dict(line.split(b"=", 1) for line in entry.split(b"\n") if b"=" in line)
    assert fields[b"REQUEST_ID"] == rid.encode() and fields[b"LOGGER"] == b"edge_face.api.access"
    assert fields[b"MESSAGE"].startswith(f"POST {VERIFY} code=1200 status=400".encode())


def test_auto_log_format_follows_journal_stream(tmp_path):
    """log_format=auto picks the journal only when $JOURNAL_STREAM names this process's stderr; the entries then
    arrive at the journal socket with their fields."""
    import subprocess
    import sys

    journal = str(tmp_path / "journal.sock")
    script = ("import logging, os, sys; from edge_face.config import load_config; from edge_face.api.logs import "
              "configure_logging; st = os.fstat(2); env = dict(os.environ); "
              "env['JOURNAL_STREAM'] = f'{st.st_dev}:{st.st_ino}' if sys.argv[1] == 'match' else '1:2'; "
              "h = configure_logging(load_config(None, env={}), env, sys.argv[2]); print(type(h).__name__); "
              "logging.getLogger('edge_face.t').warning('hello from %s', sys.argv[1])")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(journal)
        sock.settimeout(10)
        for mode, expected in (("match", "JournalHandler"), ("other", "StreamHandler")):
            with open(tmp_path / f"stderr-{mode}", "w") as err:
                run = subprocess.run([sys.executable, "-c", script, mode, journal], stdout=subprocess.PIPE,
                                     stderr=err, text=True, timeout=60)
            assert run.returncode == 0 and run.stdout.strip() == expected, (mode, run.stdout)
        entry = sock.recv(65536)
    assert b"MESSAGE=hello from match\n" in entry and b"PRIORITY=4\n" in entry and b"LOGGER=edge_face.t\n" in entry
    assert "hello from other" in (tmp_path / "stderr-other").read_text()
    assert "hello from match" not in (tmp_path / "stderr-match").read_text()
