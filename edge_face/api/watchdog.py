"""Tells systemd the truth about the service: READY=1 once it really answers, WATCHDOG=1 only while it still does.

Every check goes through the front door and the engine room: a real HTTP GET of our own /readyz (the accept loop
and a free worker thread answered, the models are loaded) and a tiny real inference (the model runners are not
stuck behind a hung request), each within a bound. When either fails for WatchdogSec, the pings stop and systemd
restarts the process; a model load that failed ends the process so that Restart= (with its back-off) retries it.
"""
from __future__ import annotations

import http.client
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout
from typing import Callable

from edge_face.services import Services
from edge_face.systemd import notify as sd_notify

log = logging.getLogger("edge_face.watchdog")

# Without WatchdogSec= (Type=notify only), still check this often so STATUS= stays current.
DEFAULT_INTERVAL = 10.0


def readyz_probe(host: str, port: int, timeout: float, api_key: str | None = None) -> str | None:
    """None if our own /readyz answers 200 within `timeout`, else why not. `api_key`: presented when /readyz
    needs one (ops_require_key)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    headers = {"User-Agent": "edge-face-watchdog"}
    if api_key:
        headers["X-API-Key"] = api_key
    try:
        conn.request("GET", "/readyz", headers=headers)
        resp = conn.getresponse()
        resp.read()
        return None if resp.status == 200 else f"/readyz answered {resp.status}"
    except (OSError, http.client.HTTPException) as exc:
        return f"/readyz did not answer within {timeout:g} s ({type(exc).__name__})"
    finally:
        conn.close()


class InferenceProbe:
    """Runs the service's warm-up pass (a blank photo through detector and embedders) on one spare thread.

    A probe that hangs keeps its thread; the next checks queue behind it and fail too, which is the point."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edge-face-probe")

    def __call__(self, timeout: float) -> str | None:
        models = self._services.peek()
        warm_up = getattr(models.faces, "warm_up", None) if models is not None else None
        if warm_up is None:
            return None  # a service without models of its own (tests' doubles): nothing to run
        future = self._pool.submit(warm_up)
        try:
            future.result(timeout=timeout)
        except FutureTimeout:
            return f"a tiny inference did not finish within {timeout:g} s"
        except Exception as exc:  # noqa: BLE001 - any failure means "cannot answer"
            return f"a tiny inference failed ({type(exc).__name__})"
        return None


class Watchdog(threading.Thread):
    """The notify loop; `checks` are callables (timeout) -> None when healthy or a reason."""

    def __init__(self, services: Services, checks: list[Callable[[float], str | None]], *,
                 watchdog_seconds: float | None, on_fatal: Callable[[str], None],
                 notify: Callable[[str], bool] = sd_notify) -> None:
        super().__init__(name="edge-face-watchdog", daemon=True)
        self.services = services
        self.checks = checks
        # Check twice per WatchdogSec, and give each check at most a quarter of it.
        self.interval = watchdog_seconds / 2 if watchdog_seconds else DEFAULT_INTERVAL
        self.bound = max(0.5, (watchdog_seconds or 4 * DEFAULT_INTERVAL) / 4)
        self.on_fatal = on_fatal
        self.notify = notify
        self.ready = False
        self.pings = 0
        self._halt = threading.Event()
        self._last_problem: str | None = "starting"

    def stop(self) -> None:
        self._halt.set()

    def check(self) -> str | None:
        for check in self.checks:
            problem = check(self.bound)
            if problem:
                return problem
        return None

    def step(self) -> bool:
        """One round; False when the loop should end."""
        status = self.services.status
        if status == "loading":
            self.notify("STATUS=loading and warming the face models")
            return True
        if status == "failed":
            reason = "the face models failed to load (see the log above)"
            self.notify(f"STATUS={reason}")
            self.on_fatal(reason)
            return False
        problem = self.check()
        if problem is None:
            if not self.ready:
                self.ready = True
                self.notify("READY=1\nSTATUS=ready")
                log.info("service ready: told systemd")
            elif self._last_problem is not None:
                self.notify("STATUS=ready")
                log.info("service answers again")
            self.notify("WATCHDOG=1")
            self.pings += 1
        else:
            if problem != self._last_problem:
                log.warning("health check failed, withholding the watchdog ping: %s", problem)
            self.notify(f"STATUS=not answering: {problem}")
        self._last_problem = problem
        return True

    def run(self) -> None:
        while not self._halt.is_set():
            started = time.monotonic()
            if not self.step():
                return
            wait = 0.2 if self.services.status == "loading" else self.interval
            self._halt.wait(max(0.0, wait - (time.monotonic() - started)))
