"""An iterator run a few items ahead on its own thread: video decoding overlapped with the analysis of the frames
already decoded.

Why: an upload's frames are decoded (every frame, also those not sampled) and then analysed, one after the other,
on one lane; the demuxer and decoder wait for nothing the analysis computes, so on a second core they cost no wall
time (a 5-s 720p upload: ~25 of ~95 ms per video-second were decoding). OpenCV releases the GIL while it decodes.

The source is only ever touched by the producer thread, which also closes it (a generator's `finally`, e.g. the
VideoReader releasing its capture). When the consumer stops early (an exception, a deadline, a generator closed),
the producer is told to stop, the queue is drained so it cannot block, and it is joined before the consumer
returns: no decoder outlives its request. An exception raised by the source reaches the consumer at the point in
the sequence where it happened.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

DEPTH = 3  # items decoded ahead: enough to absorb a slow frame, little memory (3 frames of 1080p: 18 MB)
_POLL_S = 0.05  # how often a blocked producer checks whether it should stop


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


class Prefetched(Generic[T]):
    """Iterates `source` on a daemon thread, at most `depth` items ahead of the consumer."""

    def __init__(self, source: Iterable[T], depth: int = DEPTH, name: str = "prefetch") -> None:
        self._source = source
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name=name, daemon=True)
        self._started = False

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        it = iter(self._source)
        try:
            for item in it:
                if not self._put(item):
                    break
            else:
                self._put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            self._put(_Raised(exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[T]:
        if self._started:
            raise RuntimeError("a Prefetched iterator can be iterated once")
        self._started = True
        self._thread.start()
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    return
                if isinstance(item, _Raised):
                    raise item.exc
                yield item
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get_nowait()
            except queue.Empty:
                self._thread.join(timeout=_POLL_S)
