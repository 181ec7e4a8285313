"""The inference lanes (edge_face.runtime.lanes): lanes, the bounded queue, cancellation on timeout, fork/join; and
through a real server: a full queue answers 503 + Retry-After at once while /readyz still answers."""
from __future__ import annotations

import base64
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from edge_face.runtime import Lanes, Overloaded, RequestTimedOut, fork_join


@pytest.fixture
def lanes():
    made: list[Lanes] = []

    def make(n: int = 2, depth: int = 2, timeout: float = 0.0) -> Lanes:
        made.append(Lanes(n, depth, timeout))
        return made[-1]

    yield make
    for lane in made:
        lane.shutdown()


def test_calls_run_on_the_lanes_at_most_lanes_at_once(lanes):
    sched = lanes(2, depth=8)
    running, peak, names = [0], [0], set()
    lock = threading.Lock()

    def work() -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            names.add(threading.current_thread().name)
        time.sleep(0.05)
        with lock:
            running[0] -= 1

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda _: sched.call(work), range(6)))
    assert peak[0] == 2 and names == {"edge-face-lane-0", "edge-face-lane-1"}


def test_a_full_queue_refuses_at_once(lanes):
    sched = lanes(1, depth=1)
    gate = threading.Event()
    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(sched.call, gate.wait)  # occupies the lane
        _wait_for(lambda: sched.describe()["running"] == 1)
        waiting = pool.submit(sched.call, lambda: "second")  # fills the queue
        _wait_for(lambda: sched.describe()["waiting"] == 1)
        assert sched.full()
        started = time.perf_counter()
        with pytest.raises(Overloaded) as refused:
            sched.call(lambda: "third")
        assert time.perf_counter() - started < 0.5 and refused.value.retry_after >= 1
        gate.set()
        assert running.result(5) is True and waiting.result(5) == "second"
    assert not sched.full()


def test_a_burst_onto_idle_lanes_is_not_refused(lanes):
    """Calls that idle lanes are about to take are not waiting: with 2 idle lanes and depth 1, three calls that
    are queued before any lane has woken up are all admitted (a burst after a restart); a fourth is not."""
    from edge_face.runtime.lanes import _Job

    sched = lanes(2, depth=1)
    gate = threading.Event()
    with sched._cond:  # the lanes cannot take anything while this is held: every call below waits in the queue
        for _ in range(3):
            assert not sched._over_depth()
            sched._queue.append(_Job(gate.wait, None))
        assert sched._over_depth()  # a fourth would be refused: 2 for the idle lanes, 1 waiting
        sched._cond.notify_all()
    gate.set()
    _wait_for(lambda: sched.describe()["waiting"] == 0 and sched.describe()["running"] == 0)
    assert sched.call(lambda: "after") == "after"


def test_a_timed_out_call_leaves_the_queue_and_never_runs(lanes):
    sched = lanes(1, depth=4, timeout=1.0)
    gate = threading.Event()
    ran: list[str] = []
    with ThreadPoolExecutor(2) as pool:
        blocker = pool.submit(sched.call, gate.wait)
        _wait_for(lambda: sched.describe()["running"] == 1)
        with pytest.raises(RequestTimedOut):
            sched.call(ran.append, "queued")
        assert sched.describe()["waiting"] == 0  # removed, not left to run for nobody
        gate.set()
        blocker.exception(5)  # ended (its own client may or may not have timed out first): the lane is free
    assert sched.call(lambda: "next") == "next" and ran == []


def test_a_timed_out_running_call_does_not_start_its_forked_work(lanes):
    sched = lanes(1, depth=4, timeout=1.0)
    release = threading.Event()
    ran: list[str] = []

    def request() -> list:
        release.wait()  # still running when the client's time is up
        return fork_join(lambda: ran.append("first"), lambda: ran.append("second"))

    with pytest.raises(RequestTimedOut):
        sched.call(request)
    release.set()
    _wait_for(lambda: sched.describe()["running"] == 0)
    assert ran == []  # neither the part the lane runs itself nor the part it queued: the client had gone
    assert sched.call(lambda: 1) == 1


def test_fork_join_runs_on_two_lanes_at_once_and_keeps_the_order(lanes):
    sched = lanes(2, depth=2)
    barrier = threading.Barrier(2, timeout=5)  # both halves must be running at the same time to pass

    def half(tag: str) -> tuple[str, str]:
        barrier.wait()
        return tag, threading.current_thread().name

    (a, lane_a), (b, lane_b) = sched.call(fork_join, lambda: half("a"), lambda: half("b"))
    assert (a, b) == ("a", "b") and lane_a != lane_b


def test_fork_join_with_every_lane_busy_runs_the_rest_itself(lanes):
    sched = lanes(1, depth=2)
    assert sched.call(fork_join, lambda: 1, lambda: 2, lambda: 3) == [1, 2, 3]


def test_fork_join_raises_the_first_failure_in_order(lanes):
    sched = lanes(2, depth=2)

    def fail(which: str):
        raise ValueError(which)

    for run in (lambda: sched.call(fork_join, lambda: fail("first"), lambda: fail("second")),
                lambda: fork_join(lambda: fail("first"), lambda: fail("second"))):  # on a lane, and off any
        with pytest.raises(ValueError, match="first"):
            run()


def _wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


# --- through the real server ----------------------------------------------------------------------------------

class Blocked:
    """The real face service, whose comparisons wait for `gate` first: to hold the lanes and fill the queue."""

    def __init__(self, real, gate: threading.Event) -> None:
        self.real, self.gate = real, gate

    def __getattr__(self, name):
        return getattr(self.real, name)

    def verify_pair(self, first, second, **options):
        self.gate.wait(30)
        return self.real.verify_pair(first, second, **options)


def test_a_full_queue_is_503_with_retry_after_and_readyz_still_answers(api_server, face_service, photos):
    gate = threading.Event()
    # The default depth: 1 lane + 1 waiting leaves the third server thread free, whatever the memory budget allows.
    server = api_server(service=Blocked(face_service, gate), lanes=1, server_threads=3, request_timeout=60.0)
    pair = server.pair((photos / "obama.jpg").read_bytes(), (photos / "obama2.jpg").read_bytes())
    verify = "/identity/image_verification/stateless"
    with ThreadPoolExecutor(2) as pool:
        try:
            held = [pool.submit(server.post, verify, pair)]  # runs on the only lane, blocked
            _wait_for(lambda: server.get("/readyz").json()["scheduler"]["running"] == 1)
            held.append(pool.submit(server.post, verify, pair))  # waits in the queue
            _wait_for(lambda: server.get("/readyz").json()["scheduler"]["waiting"] == 1)
            assert server.get("/readyz").json()["scheduler"]["queue_depth"] == 1
            started = time.perf_counter()
            ready = server.get("/readyz")
            assert ready.status_code == 200 and ready.json()["status"] == "ready"
            refused = server.post(verify, pair)
            assert refused.status_code == 503 and refused.json()["code"] == 5000
            assert int(refused.headers["Retry-After"]) >= 1
            photo = base64.b64encode((photos / "obama.jpg").read_bytes()).decode()
            frs = server.post("/v2/p/face-compare", json={"image1_base64": photo, "image2_base64": photo},
                              headers={"X-Auth-Token": "t"})
            assert (frs.status_code, frs.json()["error_code"]) == (503, "FRS.0500")
            assert int(frs.headers["Retry-After"]) >= 1
            assert time.perf_counter() - started < 5.0  # refused at once, not after a timeout
        finally:
            gate.set()
        assert [f.result(60).json()["code"] for f in held] == [1000, 1000]
    server.assert_alive(photos)


def test_plan_sizes_lanes_threads_and_depth_to_the_machine(api_config):
    from dataclasses import replace

    from edge_face.config import Limits
    from edge_face.runtime import machine_cores, plan

    cores = machine_cores()
    auto = replace(api_config, lanes=0, threads=0, queue_depth=0, memory_budget_mb=768, server_threads=64,
                   limits=Limits(max_image_pixels=25_000_000))
    lanes, threads, depth = plan(auto)
    assert lanes == cores and threads == 1 and depth == max(1, 805_306_368 // 150_000_000 - cores)
    # Never so many admitted that no server thread is left for /readyz.
    assert plan(replace(auto, server_threads=cores + 2))[2] == 1
    assert plan(replace(auto, lanes=1))[:2] == (1, cores)  # one lane: its interpreters take every core
    assert plan(replace(auto, queue_depth=7, threads=3))[1:] == (3, 7)  # explicit settings win
