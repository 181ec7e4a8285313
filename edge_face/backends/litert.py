"""LiteRT (TFLite) execution: one allocated interpreter per model, input shape and concurrent caller, each used by one
caller at a time.

`ai-edge-litert` is preferred; `tflite-runtime` is the fallback on devices where only that wheel exists.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

try:
    from ai_edge_litert.interpreter import Interpreter, load_delegate
except ImportError:  # pragma: no cover - depends on the device
    from tflite_runtime.interpreter import Interpreter, load_delegate  # type: ignore[no-redef]


class Backend(Protocol):
    """Creates interpreters for one kind of hardware; `name` is what /readyz and the log report."""

    name: str

    def interpreter(self, model_path: Path) -> Interpreter: ...


@dataclass(frozen=True)
class CpuBackend:
    """The CPU through LiteRT's default XNNPACK delegate."""

    threads: int = 2

    @property
    def name(self) -> str:
        return f"cpu-xnnpack-{self.threads}t"

    def interpreter(self, model_path: Path) -> Interpreter:
        return Interpreter(model_path=str(model_path), num_threads=self.threads)


class Runner:
    """Runs one model. Thread-safe, and concurrent: each caller borrows an allocated interpreter of its input shape
    (one is made when none is free), so two lanes run the same model at once instead of queueing on one lock.
    The interpreters made are as many as the callers that ever ran at once (the lanes, the watchdog's probe).

    Detection runs at the photo's own padded size, so a few shapes recur; re-allocating on every change would
    re-plan XNNPACK each time.
    """

    MAX_SHAPES = 8

    def __init__(self, model_path: Path, backend: Backend) -> None:
        self.model_path = Path(model_path)
        self.backend = backend
        self._lock = threading.Lock()
        self._free: dict[tuple[int, ...], list[Interpreter]] = {}  # idle interpreters by input shape, recent last
        first = backend.interpreter(self.model_path)
        first.allocate_tensors()
        self._inputs = first.get_input_details()
        self.input_shape = tuple(int(v) for v in self._inputs[0]["shape"])
        self.input_dtype = np.dtype(self._inputs[0]["dtype"])
        # (scale, zero_point) of an int8/uint8 input tensor: real = scale * (q - zero_point); (0.0, 0) for float
        scale, zero_point = self._inputs[0].get("quantization", (0.0, 0))
        self.input_quantization = (float(scale), int(zero_point))
        # (name, tensor index) of every output: the same in every interpreter of this file, and get_output_details()
        # builds fresh dicts on every call, which costs more than a small model's outputs themselves.
        self._outputs = [(d["name"], d["index"]) for d in first.get_output_details()]
        self.output_names = [name for name, _ in self._outputs]
        self._free[self.input_shape] = [first]

    def _borrow(self, shape: tuple[int, ...]) -> Interpreter:
        with self._lock:
            idle = self._free.pop(shape, None)  # re-inserted on return: the dict's order is recency
            if idle:
                it = idle.pop()
                self._free[shape] = idle
                return it
            if idle is not None:
                self._free[shape] = idle
        it = self.backend.interpreter(self.model_path)  # outside the lock: XNNPACK's set-up takes milliseconds
        if shape != self.input_shape:
            it.resize_tensor_input(self._inputs[0]["index"], list(shape), strict=False)
        it.allocate_tensors()
        return it

    def _give_back(self, shape: tuple[int, ...], it: Interpreter) -> None:
        with self._lock:
            self._free.setdefault(shape, []).append(it)
            while len(self._free) > self.MAX_SHAPES:  # forget the least recently used shape (never the model's own)
                oldest = next(k for k in self._free if k != self.input_shape)
                del self._free[oldest]

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Invoke on one input tensor; returns every output by tensor name (copies, safe to keep)."""
        x = np.ascontiguousarray(x, dtype=self.input_dtype)
        shape = tuple(x.shape)
        it = self._borrow(shape)
        try:
            it.set_tensor(self._inputs[0]["index"], x)
            it.invoke()
            return {name: it.get_tensor(index).copy() for name, index in self._outputs}
        finally:
            self._give_back(shape, it)
