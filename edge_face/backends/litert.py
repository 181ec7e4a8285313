"""LiteRT (TFLite) execution: one interpreter per model and input shape, created once, used under a lock.

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
    """Runs one model. Thread-safe; keeps one allocated interpreter per input shape it has seen.

    Detection runs at the photo's own padded size, so a few shapes recur; re-allocating on every change would
    re-plan XNNPACK each time.
    """

    MAX_SHAPES = 8

    def __init__(self, model_path: Path, backend: Backend) -> None:
        self.model_path = Path(model_path)
        self.backend = backend
        self._lock = threading.Lock()
        self._by_shape: dict[tuple[int, ...], Interpreter] = {}
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
        self._by_shape[self.input_shape] = first

    def _interpreter_for(self, shape: tuple[int, ...]) -> Interpreter:
        it = self._by_shape.get(shape)
        if it is None:
            if len(self._by_shape) >= self.MAX_SHAPES:
                self._by_shape.pop(next(k for k in self._by_shape if k != self.input_shape))
            it = self.backend.interpreter(self.model_path)
            it.resize_tensor_input(self._inputs[0]["index"], list(shape), strict=False)
            it.allocate_tensors()
            self._by_shape[shape] = it
        return it

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Invoke on one input tensor; returns every output by tensor name (copies, safe to keep)."""
        x = np.ascontiguousarray(x, dtype=self.input_dtype)
        with self._lock:
            it = self._interpreter_for(tuple(x.shape))
            it.set_tensor(self._inputs[0]["index"], x)
            it.invoke()
            return {name: it.get_tensor(index).copy() for name, index in self._outputs}
