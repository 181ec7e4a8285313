"""TFLite flatbuffer rewriting: output names and shapes after conversion, batch 2 -> 1, and the int8 preparation.

MobileFaceNet's file predates TF 2.4 and has a fixed batch of 2; SFace has PRELU ops. ai-edge-quantizer cannot
quantize PRELU or ABS, and XNNPACK does not delegate int8 standalone RELU / per-channel MUL: left as they are,
the int8 graph falls apart into dozens of delegate partitions with CPU kernels between them (MODELS.md: 34
partitions, 24 ms). The passes below rewrite the float graph into an equivalent one made of ops XNNPACK runs in
int8 (1x1 depthwise convolutions stand in for RELU, per-channel MUL and the constant ADD/SUB after them).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from ai_edge_litert import schema_py_generated as tfs
from ai_edge_litert.tools import flatbuffer_utils as fbu

BOP = tfs.BuiltinOperator


def read_tfl(data: bytes) -> Any:
    return fbu.read_model_from_bytearray(bytearray(data))


def write_tfl(model: Any) -> bytes:
    return bytes(fbu.convert_object_to_bytearray(model))


def op_code(model: Any, op: Any) -> int:
    return fbu.get_builtin_code_from_operator_code(model.operatorCodes[op.opcodeIndex])


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


def patch_tflite(data: bytes, output_names: list[str], input_shape: list[int] | None = None) -> bytes:
    """Give the outputs their ONNX names (onnx2tf leaves Identity, Identity_1, ...) and set the default input shape.

    Output order is kept as in ONNX; the equivalence checks confirm each renamed output matches its ONNX namesake.
    """
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
        folded = (bias + np.broadcast_to(c, (channels,))).astype(np.float32)
        op.inputs[2] = add_const(model, sg, f"folded_bias_{n}", folded)
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

