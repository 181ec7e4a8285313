"""Convert the two MiniFASNet anti-spoofing models (ONNX) to LiteRT into models/minifasnet_v2/ and minifasnet_v1se/.

Run from the repository root with the build tools of models/requirements-build.txt (`make models` does it):
    python models/build_minifasnet.py [--source DIR]
DIR holds the ONNX exports and LICENSE of Minivision's Silent-Face-Anti-Spoofing (default ../shared/models/minifasnet,
see its README); each file's sha256 is checked against the pins below before anything else. onnx2tf is run offline
(it otherwise downloads sample data). The converted model is checked against the ONNX original, run by OpenCV dnn,
on real face crops cut with the models' own crop rule from the test fixtures (registry photos).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

MODELS = Path(__file__).resolve().parent
REPO = MODELS.parent
DEFAULT_SOURCE = REPO.parent / "shared" / "models" / "minifasnet"
UPSTREAM = "github.com/minivision-ai/Silent-Face-Anti-Spoofing @ b6d5f04ad78778917853b25c778acef6d5626d15, resources/anti_spoof_models/"

# folder -> (ONNX file, its pinned sha256, crop scale of the upstream file name, description)
BUILDS = {
    "minifasnet_v2": ("2.7_80x80_MiniFASNetV2.onnx",
                      "25a9a6fc562c644d7b1afc184b3edbc9af8aed8fdd25f3da521046500e6b6b23", 2.7,
                      "MiniFASNetV2 silent anti-spoofing, 80x80, crop = face box x 2.7"),
    "minifasnet_v1se": ("4_0_0_80x80_MiniFASNetV1SE.onnx",
                        "6e69f782861c93e11440f84026048e883de731056aed8fa9dbd8b642e740fe23", 4.0,
                        "MiniFASNetV1SE silent anti-spoofing, 80x80, crop = face box x 4.0"),
}
TOLERANCE = 1e-4  # max |softmax difference| TFLite vs ONNX on the check crops


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_crops(scale: float) -> np.ndarray:
    """80x80 BGR float crops of the fixture photos' faces, boxes from the project's own YuNet (models/yunet/)."""
    import cv2

    sys.path.insert(0, str(REPO))
    from edge_face.liveness.antispoof import crop  # the service's own crop rule, so the check sees what it runs
    from edge_face.models import ModelRegistry
    from edge_face.pipeline.detect import YuNetDetector
    from tests.fixtures import ensure

    folder = ensure()
    detector = YuNetDetector(ModelRegistry(MODELS).runner("yunet"), score_threshold=0.8)
    crops = []
    for name in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "t1.jpg", "Tom_Hanks_54745.png",
                 "mask_blue.jpg"):
        bgr = cv2.imread(str(folder / name))
        crops += [crop(bgr, face.box, scale) for face in detector.detect(bgr)[:4]]
    if len(crops) < 5:
        raise SystemExit(f"only {len(crops)} check crops found in the fixtures")
    return np.stack(crops)


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def convert(onnx_path: Path, work: Path) -> Path:
    import onnx2tf
    import onnx2tf.onnx2tf as core

    # onnx2tf fetches a sample-image array from the internet for 4-D 3-channel inputs; local data converts the same.
    core.download_test_image_data = lambda: np.random.default_rng(0).random((20, 128, 128, 3), dtype=np.float32)
    onnx2tf.convert(input_onnx_file_path=str(onnx_path), output_folder_path=str(work), non_verbose=True)
    return work / f"{onnx_path.stem}_float32.tflite"


def compare(onnx_path: Path, tflite: Path, crops: np.ndarray) -> dict:
    import cv2
    from ai_edge_litert.interpreter import Interpreter

    net = cv2.dnn.readNetFromONNX(str(onnx_path))
    ref = []
    for crop in crops:  # the export has a fixed batch of 1
        net.setInput(crop.transpose(2, 0, 1)[None].copy())
        ref.append(np.asarray(net.forward()).reshape(3))
    ref = np.stack(ref)
    it = Interpreter(model_path=str(tflite))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    got = []
    for crop in crops:
        it.set_tensor(inp["index"], crop[None])
        it.invoke()
        got.append(it.get_tensor(out["index"]).reshape(3))
    got = np.stack(got)
    diff = float(np.abs(softmax(got) - softmax(ref)).max())
    if diff > TOLERANCE:
        raise SystemExit(f"{tflite.name}: TFLite and ONNX differ by {diff:.2e} (softmax) on real crops")
    return {"crops": int(len(crops)), "max_abs_softmax_diff": float(f"{diff:.3g}"),
            "max_abs_logit_diff": float(f"{float(np.abs(got - ref).max()):.3g}"),
            "real_prob_range_onnx": [round(float(softmax(ref)[:, 1].min()), 4), round(float(softmax(ref)[:, 1].max()), 4)],
            "reference": "OpenCV dnn on the ONNX file, NCHW"}


def io_contract(tflite: Path) -> tuple[dict, dict]:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(tflite))
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    return ({"name": i["name"], "index": int(i["index"]), "shape": [int(v) for v in i["shape"]], "dtype": "float32"},
            {"name": o["name"], "index": int(o["index"]), "shape": [int(v) for v in o["shape"]], "dtype": "float32"})


def tool_versions() -> dict:
    from importlib.metadata import version

    out = {n: version(n) for n in ("onnx", "onnx2tf", "tensorflow", "ai-edge-litert", "opencv-python-headless")}
    out["python"] = sys.version.split()[0]
    return out


def build(folder: str, source: Path, crops_by_scale: dict[float, np.ndarray]) -> None:
    name, pin, scale, description = BUILDS[folder]
    onnx_path = source / name
    got = sha256(onnx_path.read_bytes())
    if got != pin:
        raise SystemExit(f"{onnx_path}: sha256 {got} is not the pinned {pin}")
    out = MODELS / folder
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / name
        shutil.copyfile(onnx_path, local)
        tflite = convert(local, Path(tmp) / "tf")
        target = out / f"{Path(name).stem}.tflite"
        shutil.copyfile(tflite, target)
    crops = crops_by_scale.setdefault(scale, check_crops(scale))
    equivalence = compare(onnx_path, target, crops)
    inp, outp = io_contract(target)
    data = target.read_bytes()
    manifest = {
        "id": folder.replace("_", "-") + "-float32",
        "file": target.name,
        "sha256": sha256(data),
        "size": len(data),
        "description": description,
        "source": {"upstream": UPSTREAM, "file": name, "source_sha256": pin,
                   "export": "torch.onnx.export of the published .pth (opset 13), see ../shared/models/minifasnet/README.md"},
        "conversion": {"tools": tool_versions(),
                       "steps": ["sha256 of the ONNX checked against the pin", "onnx2tf float32 (NCHW -> NHWC), offline"],
                       "equivalence": equivalence},
        "licence": {"spdx": "Apache-2.0", "file": "LICENSE", "notice": "NOTICE"},
        "input": {**inp, "layout": "NHWC", "colour": "BGR", "normalisation": "none: raw 0..255 float32",
                  "crop": (f"detector face box (x, y, w, h) scaled about its centre by {scale}, the scale clamped so "
                           "the box fits the image, the box shifted back inside the image, cut out, resized to 80x80")},
        "outputs": [{**outp, "meaning": "3 logits; softmax; index 1 = real face (upstream averages the two models' "
                                        "softmax)"}],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.copyfile(source / "LICENSE", out / "LICENSE")
    (out / "NOTICE").write_text(
        f"{target.name}: converted (onnx2tf, float32) from {name}, the ONNX export of the weights published by\n"
        f"Minivision in Silent-Face-Anti-Spoofing ({UPSTREAM}).\n"
        "Copyright Minivision; licensed under the Apache License 2.0 (LICENSE). Changed: format only (PyTorch ->\n"
        "ONNX -> TFLite); weights unchanged.\n")
    print(f"{folder}: {target.name} sha256 {manifest['sha256']}, {equivalence}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    args = parser.parse_args()
    crops: dict[float, np.ndarray] = {}
    for folder in BUILDS:
        build(folder, args.source, crops)


if __name__ == "__main__":
    main()
