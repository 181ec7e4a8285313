"""The per-request timeout: a route hands the calls that must answer in time to `run()` (ApiState.run), which runs
them on a bounded worker pool and waits at most `request_timeout` seconds (the wait in the pool's queue included).

Why a pool and not a signal or a killed thread: waitress serves requests on threads, only the main thread gets
signals, and a thread running LiteRT inside native code cannot be interrupted at all. So the timeout bounds what
the *client* waits, not the CPU: a call that overruns is answered 503 with code 5000, its result is thrown away
when it finishes, and a call that has not started yet is cancelled. The pool has as many workers as waitress has
threads, so overrunning calls can never pile up more work than the server was sized for: while they run, new
calls queue and time out in turn (503, the server is overloaded), and the server recovers by itself once they end.
"""
from __future__ import annotations

import concurrent.futures as cf
from typing import Any, Callable, TypeVar

T = TypeVar("T")


class RequestTimedOut(RuntimeError):
    """The call did not finish within the request timeout (SenseID 5000 / FRS.0500, HTTP 503)."""


class BoundedRunner:
    """Run callables on `workers` threads, each call answered within `timeout` seconds (0: wait for ever)."""

    def __init__(self, workers: int, timeout: float) -> None:
        self.timeout = timeout
        self._pool = cf.ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="edge-face-work")

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if not self.timeout:
            return fn(*args, **kwargs)
        future = self._pool.submit(fn, *args, **kwargs)
        try:
            return future.result(timeout=self.timeout)
        except cf.TimeoutError:
            future.cancel()  # not started yet: it never will; running: it finishes and is discarded
            raise RequestTimedOut(f"request timed out after {self.timeout:g} s") from None

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
