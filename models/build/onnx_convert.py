"""ONNX preparation and the ONNX -> TFLite conversion (onnx2tf, offline)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper


def dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray, axis: int, block: int) -> np.ndarray:
    """DequantizeLinear semantics for per-tensor, per-axis and blocked (opset 21) scales."""
    if scale.size == 1:
        return (q - zero.reshape(())) * scale.reshape(())
    axis %= q.ndim
    if block:
        n = q.shape[axis]
        scale = np.repeat(scale, block, axis=axis).take(range(n), axis=axis)
        zero = np.repeat(zero, block, axis=axis).take(range(n), axis=axis)
        return (q - zero) * scale
    shape = [1] * q.ndim
    shape[axis] = -1
    return (q - zero.reshape(shape)) * scale.reshape(shape)


def fold_dequantize(model: onnx.ModelProto) -> onnx.ModelProto:
    """Replace DequantizeLinear on constant int8 weights by float constants; drop initializers listed as inputs.

    onnx2tf cannot convert blocked DequantizeLinear, and OpenCV 5 refuses the extra weight inputs in
    FaceRecognizerSF; the folded graph computes the same function in float32.
    """
    graph = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    kept = []
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and all(i in consts for i in node.input if i):
            q, scale = consts[node.input[0]].astype(np.float32), consts[node.input[1]].astype(np.float32)
            has_zero = len(node.input) > 2 and node.input[2]
            zero = consts[node.input[2]].astype(np.float32) if has_zero else np.zeros_like(scale)
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            consts[node.output[0]] = dequantize(q, scale, zero, attrs.get("axis", 1),
                                                attrs.get("block_size", 0)).astype(np.float32)
        else:
            kept.append(node)
    used = {i for n in kept for i in n.input}
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in consts.items() if k in used)
    inputs = [i for i in graph.input if i.name in used and i.name not in consts]
    del graph.input[:]
    graph.input.extend(inputs)
    model.opset_import[0].version = 17  # no DequantizeLinear left; 17 is what onnx2tf/onnxsim handle best
    onnx.checker.check_model(model)
    return model


def make_hw_dynamic(model: onnx.ModelProto) -> onnx.ModelProto:
    """Mark the NCHW input's H and W (and the outputs' anchor count) symbolic.

    YuNet is fully convolutional (Resize by scale, Reshape to [1,-1,k]), so only the declared 640x640 pins the
    size; with symbols there, onnx2tf emits a TFLite with shape_signature [1,-1,-1,3].
    """
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for i, sym in ((2, "H"), (3, "W")):
        dims[i].ClearField("dim_value")
        dims[i].dim_param = sym
    for out in model.graph.output:
        d = out.type.tensor_type.shape.dim[1]
        d.ClearField("dim_value")
        d.dim_param = f"n_{out.name}"
    del model.graph.value_info[:]
    onnx.checker.check_model(model)
    return model


def simplify(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnxsim folds the weight Reshapes left after dequantizing, so onnx2tf sees plain Conv weights."""
    import onnxsim

    simplified, ok = onnxsim.simplify(model)
    if not ok:
        raise SystemExit("onnxsim could not validate the simplified model")
    return simplified


def convert(onnx_file: Path, out: Path) -> bytes:
    """onnx2tf float32 conversion of a file into the folder `out`, offline.

    onnx2tf downloads a sample-image array for models whose input is a 3-channel image (used only for its own
    accuracy check); replace that download with fixed local data so the build needs no network.

    The TFLite's tensor names carry Keras's process-wide layer counters (`model_3/tf.math.multiply_41/Mul`), so the
    bytes depend on the conversions run before in the same process: YuNet then SFace share one process, the
    MiniFASNets get a fresh one, as when their committed artefacts were made.
    """
    import onnx2tf
    import onnx2tf.onnx2tf as core

    core.download_test_image_data = lambda: np.random.default_rng(0).random((20, 128, 128, 3), dtype=np.float32)
    onnx2tf.convert(input_onnx_file_path=str(onnx_file), output_folder_path=str(out), non_verbose=True)
    return (out / f"{onnx_file.stem}_float32.tflite").read_bytes()


def onnx_to_tflite(model: onnx.ModelProto, work: Path) -> bytes:
    """A prepared in-memory model converted in a fresh work folder."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    src = work / "model.onnx"
    onnx.save(model, src)
    return convert(src, work)
