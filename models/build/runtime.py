"""Running a model under LiteRT the way the service does, and reading back its I/O as the manifests record it."""
from __future__ import annotations

from typing import Any

import numpy as np
from ai_edge_litert.interpreter import Interpreter


def interpreter(data: bytes, threads: int = 2) -> Interpreter:
    it = Interpreter(model_content=data, num_threads=threads)
    it.allocate_tensors()
    return it


def run_tflite(it: Interpreter, x: np.ndarray) -> dict[str, np.ndarray]:
    """Invoke with one input, resizing the input tensor if needed; outputs by tensor name."""
    inp = it.get_input_details()[0]
    if tuple(inp["shape"]) != x.shape:
        it.resize_tensor_input(inp["index"], list(x.shape), strict=True)
        it.allocate_tensors()
    it.set_tensor(inp["index"], x.astype(np.float32))
    it.invoke()
    return {d["name"]: it.get_tensor(d["index"]).copy() for d in it.get_output_details()}


def io_details(data: bytes) -> dict[str, Any]:
    """Input and outputs as LiteRT reports them (order, names, shapes, shape signatures) after one invoke at the
    default input shape: before an invoke, outputs of a resizable model still show placeholder shapes."""
    it = interpreter(data)
    inp = it.get_input_details()[0]
    it.set_tensor(inp["index"], np.zeros(inp["shape"], np.float32))
    it.invoke()
    desc = lambda d: {"name": d["name"], "index": int(d["index"]), "shape": d["shape"].tolist(),  # noqa: E731
                      "shape_signature": d["shape_signature"].tolist(), "dtype": np.dtype(d["dtype"]).name}
    return {"inputs": [desc(d) for d in it.get_input_details()],
            "outputs": [desc(d) for d in it.get_output_details()]}


def io_rows(data: bytes) -> dict[str, list[dict[str, Any]]]:
    """Names, indices, shapes and dtypes after allocation only: the shorter record of the fixed-shape models taken
    as they are (face mesh, MiniFASNet)."""
    it = Interpreter(model_content=data)
    it.allocate_tensors()

    def rows(details: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"name": d["name"], "index": int(d["index"]), "shape": [int(v) for v in d["shape"]],
                 "dtype": d["dtype"].__name__} for d in details]

    return {"inputs": rows(it.get_input_details()), "outputs": rows(it.get_output_details())}


def xnnpack_partitions(data: bytes) -> dict[str, Any]:
    """How XNNPACK splits the graph: after allocate_tensors every delegated partition is one DELEGATE node among the
    interpreter's nodes (the original nodes are listed too); more than one partition means CPU kernels run between
    them, with a float/int8 round trip and a thread hand-over each time."""
    it = Interpreter(model_content=data, num_threads=2)
    it.allocate_tensors()
    nodes = it._get_ops_details()  # noqa: SLF001 - the public API has no partition count
    return {"xnnpack_partitions": sum(n["op_name"] == "DELEGATE" for n in nodes),
            "graph_ops": sum(n["op_name"] != "DELEGATE" for n in nodes),
            "method": "ai_edge_litert Interpreter._get_ops_details() after allocate_tensors(): DELEGATE nodes"}


def require_one_partition(name: str, data: bytes) -> dict[str, Any]:
    part = xnnpack_partitions(data)
    if part["xnnpack_partitions"] != 1:
        raise SystemExit(f"{name}: XNNPACK splits the graph into {part['xnnpack_partitions']} partitions, expected 1")
    return part
