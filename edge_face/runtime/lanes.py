"""One inference scheduler sized to the machine: `lanes` worker threads (one per core by default) take model work
from one bounded queue.

Why lanes and not a thread per request: a request's work is CPU-bound (LiteRT, OpenCV), so more runnable threads
than cores only makes them fight: with 4 server threads each driving XNNPACK with 2 threads on 2 cores, 4 clients
got no more done than 1 (issue 16). With one lane per core and one XNNPACK thread per interpreter, each core runs
one model call at a time, end to end, with no cross-thread synchronisation inside the model; waiting requests wait
in the queue, where they cost nothing and can be refused or cancelled.

The same queue is the admission control of a device exposed to a network (issue 15): at most `depth` calls wait;
one more is refused at once with Overloaded (503, Retry-After) instead of waiting for a timeout, and a call whose
request timed out is removed from the queue (or, when already running, its result is discarded and the sub-tasks
it forked are not started).

Framework-free: the HTTP layer hands its work to `call()`; the services split a request across lanes with the
module-level `fork_join()`, which runs its thunks one after the other when not on a lane (CLI, tests, benchmarks).
"""
from __future__ import annotations

import os
import threading
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar

if TYPE_CHECKING:
    from edge_face.config import Config

T = TypeVar("T")

_QUEUED, _RUNNING, _DONE, _CANCELLED = "queued", "running", "done", "cancelled"


class RequestTimedOut(RuntimeError):
    """The call did not finish within the request timeout (SenseID 5000 / FRS.0500, HTTP 503)."""


class Overloaded(RuntimeError):
    """The queue in front of the models is full (SenseID 5000 / FRS.0500, HTTP 503 with Retry-After)."""

    def __init__(self, depth: int, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail or f"server busy: {depth} requests already wait for the models, retry in "
                                   f"{retry_after} s")
        self.retry_after = retry_after


def machine_cores() -> int:
    """The cores this process may run on (a cgroup/affinity mask counts, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class _Job:
    """One unit of work in the queue; `parent` is the job that forked it (cancelled with it)."""

    __slots__ = ("fn", "parent", "state", "result", "error", "done")

    def __init__(self, fn: Callable[[], Any], parent: "_Job | None") -> None:
        self.fn = fn
        self.parent = parent
        self.state = _QUEUED
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def abandoned(self) -> bool:
        job: _Job | None = self
        while job is not None:
            if job.state == _CANCELLED:
                return True
            job = job.parent
        return False

    def run(self) -> None:
        try:
            self.result = self.fn()
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for the job
            self.error = exc
        finally:
            if self.state != _CANCELLED:
                self.state = _DONE
            self.done.set()

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


_local = threading.local()  # .lanes, .job: set on lane threads while they run a job


class Lanes:
    """`lanes` worker threads over one queue of at most `depth` waiting calls, each answered within `timeout`
    seconds (0: no limit) counted from its submission. `retry_after`: seconds a refused client is told to wait."""

    def __init__(self, lanes: int, depth: int, timeout: float, retry_after: int = 1) -> None:
        self.lanes = max(1, lanes)
        self.depth = max(1, depth)
        self.timeout = timeout
        self.retry_after = max(1, retry_after)
        self._queue: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._running = 0
        self._stopped = False
        self._threads = [threading.Thread(target=self._work, name=f"edge-face-lane-{i}", daemon=True)
                         for i in range(self.lanes)]
        for t in self._threads:
            t.start()

    # --- the request side ---------------------------------------------------------------------------------

    def full(self) -> bool:
        """True when one more call would be refused (a cheap check before a request decodes anything)."""
        with self._cond:
            return self._over_depth()

    def _waiting(self) -> int:
        return sum(1 for j in self._queue if j.parent is None)

    def _over_depth(self) -> bool:
        """`depth` calls already wait beyond those an idle lane is about to take: a burst that arrives while the
        lanes are free (after a restart, say) is not refused before the lanes have had a moment to pick it up."""
        return self._waiting() >= self.depth + max(0, self.lanes - self._running)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on a lane: Overloaded when `depth` calls already wait, RequestTimedOut after
        `timeout` seconds (the call is then dropped from the queue, or its result discarded)."""
        if getattr(_local, "lanes", None) is self:  # already on a lane: queueing behind ourselves could deadlock
            return fn(*args, **kwargs)
        job = _Job(lambda: fn(*args, **kwargs), None)
        with self._cond:
            if self._stopped:
                raise RuntimeError("the scheduler is shut down")
            if self._over_depth():
                raise Overloaded(self.depth, self.retry_after)
            self._queue.append(job)
            self._cond.notify()
        if not job.done.wait(self.timeout or None):
            with self._cond:
                if job.state == _QUEUED:
                    self._queue.remove(job)
                if job.state != _DONE:
                    job.state = _CANCELLED  # a running job finishes; its queued sub-tasks are skipped
            if job.state == _CANCELLED:
                raise RequestTimedOut(f"request timed out after {self.timeout:g} s")
        return job.outcome()

    # --- the lane side ------------------------------------------------------------------------------------

    def fork_join(self, thunks: Sequence[Callable[[], Any]]) -> list[Any]:
        """Run `thunks` in parallel on free lanes (the calling lane runs the first) and return their results in
        order; the first thunk's exception, in order, is raised after all have ended.

        Deadlock-free with every lane busy: a sub-task no other lane has started yet is taken back and run here,
        so a lane only ever waits for work that is already running."""
        parent: _Job | None = getattr(_local, "job", None)
        jobs = [_Job(t, parent) for t in thunks[1:]]
        with self._cond:
            self._queue.extendleft(reversed(jobs))  # ahead of new requests: finish what has started first
            self._cond.notify(len(jobs))
        first = _Job(thunks[0], parent)
        if not first.abandoned():
            first.run()
        for job in jobs:
            with self._cond:
                mine = job.state == _QUEUED
                if mine:
                    self._queue.remove(job)
                    job.state = _RUNNING
            if mine and not job.abandoned():
                job.run()
            elif not mine:
                job.done.wait()
        if parent is not None and parent.abandoned():  # its client has gone: whatever follows is wasted work
            raise RequestTimedOut("the request timed out while its parts ran")
        return [j.outcome() for j in [first, *jobs]]

    def _work(self) -> None:
        _local.lanes = self
        while True:
            with self._cond:
                while not self._queue and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                job = self._queue.popleft()
                if job.abandoned():
                    job.state = _CANCELLED
                    job.done.set()
                    continue
                job.state = _RUNNING
                self._running += 1
            _local.job = job
            try:
                job.run()
            finally:
                _local.job = None
                with self._cond:
                    self._running -= 1

    def describe(self) -> dict[str, int | float]:
        """For /readyz and the log: the size of the machine's share and what waits now."""
        with self._cond:
            return {"lanes": self.lanes, "queue_depth": self.depth, "waiting": self._waiting(),
                    "running": self._running, "timeout_s": self.timeout}

    def shutdown(self) -> None:
        with self._cond:
            self._stopped = True
            for job in self._queue:
                job.state = _CANCELLED
                job.done.set()
            self._queue.clear()
            self._cond.notify_all()


def fork_join(*thunks: Callable[[], Any]) -> list[Any]:
    """The thunks' results in order: in parallel across lanes when called on a lane, else one after the other
    (the first exception, in order, is raised once all have run, either way)."""
    lanes: Lanes | None = getattr(_local, "lanes", None)
    if lanes is not None and len(thunks) > 1:
        return lanes.fork_join(thunks)
    return [thunk() for thunk in thunks]  # the first exception stops the rest: the same one is raised


def plan(config: "Config") -> tuple[int, int, int]:
    """(lanes, XNNPACK threads per interpreter, queue depth) for `config` on this machine.

    Lanes x threads = cores by default: every core runs one model call, none is shared by two busy threads. The
    queue holds what the memory budget leaves once every lane runs a request: each request, running or waiting,
    may hold two decoded photos of limits.max_image_pixels (BGR, 3 bytes a pixel). And it leaves one of the HTTP
    server's threads free however full it is: each running or waiting request holds one, so with more admitted
    than server_threads - 1, /readyz (and the immediate 503 itself) would wait for a thread."""
    cores = machine_cores()
    lanes = config.lanes or cores
    threads = config.threads or max(1, cores // lanes)
    per_request = 2 * 3 * config.limits.max_image_pixels
    depth = config.queue_depth or min(config.memory_budget_mb * 1024 * 1024 // per_request - lanes,
                                      config.server_threads - 1 - lanes)
    depth = max(1, depth)
    return lanes, threads, depth


def lanes_from_config(config: "Config") -> Lanes:
    """The server's scheduler. OpenCV's own thread pool is left as it is: sizing it like the interpreters
    (cv2.setNumThreads is process-wide) slowed the live camera's frame path enough to miss frames in
    tests/test_camera.py; see tools/edge_face_tools/letterbox.py for what one OpenCV thread costs."""
    lanes, _, depth = plan(config)
    return Lanes(lanes, depth, config.request_timeout)
