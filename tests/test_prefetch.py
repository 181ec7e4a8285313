"""The prefetching iterator that overlaps video decoding with analysis (edge_face/runtime/prefetch.py)."""
from __future__ import annotations

import threading
import time

import pytest

from edge_face.runtime.prefetch import Prefetched


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate()}


def test_items_arrive_in_order_and_the_thread_ends():
    assert list(Prefetched(range(50), depth=2, name="pf-order")) == list(range(50))
    assert "pf-order" not in _threads()


def test_the_source_runs_ahead_of_the_consumer_on_another_thread():
    seen: list[str] = []

    def source():
        for i in range(3):
            seen.append(threading.current_thread().name)
            yield i

    it = iter(Prefetched(source(), depth=3, name="pf-ahead"))
    assert next(it) == 0
    deadline = time.monotonic() + 2.0
    while len(seen) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen == ["pf-ahead"] * 3  # decoded ahead while the consumer held item 0
    assert list(it) == [1, 2]


def test_an_error_of_the_source_reaches_the_consumer_after_the_items_before_it():
    def source():
        yield 1
        yield 2
        raise ValueError("truncated video")

    got = []
    with pytest.raises(ValueError, match="truncated video"):
        for item in Prefetched(source(), name="pf-error"):
            got.append(item)
    assert got == [1, 2]


def test_a_consumer_that_stops_early_stops_and_closes_the_source():
    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    gen = iter(Prefetched(endless(), depth=2, name="pf-early"))
    assert next(gen) == 0
    gen.close()  # what a failing analysis does to the frames it was reading
    assert closed.wait(2.0)
    assert "pf-early" not in _threads()


def test_it_can_be_iterated_once():
    p = Prefetched([1, 2])
    assert list(p) == [1, 2]
    with pytest.raises(RuntimeError):
        list(p)
