"""The two MiniFASNet anti-spoofing models: ONNX exports of Minivision's Silent-Face-Anti-Spoofing converted to
LiteRT, checked against the ONNX original (OpenCV dnn) on real face crops cut with the service's own crop rule.

The exports and their LICENSE come from a local folder (default ../shared/models/minifasnet, see its README); each
file's sha256 is checked against the pins below before anything else.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from models.build import MODELS, ROOT
from models.build.checks import fixture_images
from models.build.fetch import require_sha256
from models.build.manifest import tool_versions, write_model
from models.build.onnx_convert import convert
from models.build.runtime import interpreter, io_rows

DEFAULT_SOURCE = ROOT.parent / "shared" / "models" / "minifasnet"
UPSTREAM = ("github.com/minivision-ai/Silent-Face-Anti-Spoofing @ b6d5f04ad78778917853b25c778acef6d5626d15, "
            "resources/anti_spoof_models/")
TOOLS = ("onnx", "onnx2tf", "tensorflow", "ai-edge-litert", "opencv-python-headless")
TOLERANCE = 1e-4  # max |softmax difference| TFLite vs ONNX on the check crops
CHECK_PHOTOS = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "t1.jpg", "Tom_Hanks_54745.png",
                "mask_blue.jpg")


@dataclass(frozen=True)
class Export:
    """One pinned ONNX export; its crop scale is upstream's, from the file name."""

    file: str
    sha256: str
    crop_scale: float
    description: str


EXPORTS = {
    "minifasnet_v2": Export("2.7_80x80_MiniFASNetV2.onnx",
                            "25a9a6fc562c644d7b1afc184b3edbc9af8aed8fdd25f3da521046500e6b6b23", 2.7,
                            "MiniFASNetV2 silent anti-spoofing, 80x80, crop = face box x 2.7"),
    "minifasnet_v1se": Export("4_0_0_80x80_MiniFASNetV1SE.onnx",
                              "6e69f782861c93e11440f84026048e883de731056aed8fa9dbd8b642e740fe23", 4.0,
                              "MiniFASNetV1SE silent anti-spoofing, 80x80, crop = face box x 4.0"),
}


def check_crops(scale: float) -> np.ndarray:
    """80x80 BGR float crops of the fixture photos' faces, boxes from the project's own YuNet (models/yunet/)."""
    from edge_face.liveness.antispoof import crop  # the service's own crop rule, so the check sees what it runs
    from edge_face.models import ModelRegistry
    from edge_face.pipeline.detect import YuNetDetector

    detector = YuNetDetector(ModelRegistry(MODELS).runner("yunet"), score_threshold=0.8)
    crops = []
    for bgr in fixture_images(CHECK_PHOTOS).values():
        crops += [crop(bgr, face.box, scale) for face in detector.detect(bgr)[:4]]
    if len(crops) < 5:
        raise SystemExit(f"only {len(crops)} check crops found in the fixtures")
    return np.stack(crops)


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def compare(onnx_path: Path, tfl: bytes, crops: np.ndarray) -> dict[str, Any]:
    """Softmax of the TFLite vs OpenCV dnn on the ONNX file, crop by crop; the build stops above TOLERANCE."""
    net = cv2.dnn.readNetFromONNX(str(onnx_path))
    ref = []
    for crop in crops:  # the export has a fixed batch of 1
        net.setInput(crop.transpose(2, 0, 1)[None].copy())
        ref.append(np.asarray(net.forward()).reshape(3))
    ref = np.stack(ref)
    it = interpreter(tfl)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    got = []
    for crop in crops:
        it.set_tensor(inp["index"], crop[None])
        it.invoke()
        got.append(it.get_tensor(out["index"]).reshape(3))
    got = np.stack(got)
    diff = float(np.abs(softmax(got) - softmax(ref)).max())
    if diff > TOLERANCE:
        raise SystemExit(f"{onnx_path.name}: TFLite and ONNX differ by {diff:.2e} (softmax) on real crops")
    return {"crops": int(len(crops)), "max_abs_softmax_diff": float(f"{diff:.3g}"),
            "max_abs_logit_diff": float(f"{float(np.abs(got - ref).max()):.3g}"),
            "real_prob_range_onnx": [round(float(softmax(ref)[:, 1].min()), 4),
                                     round(float(softmax(ref)[:, 1].max()), 4)],
            "reference": "OpenCV dnn on the ONNX file, NCHW"}


def build(folder: str, source: Path) -> None:
    """models/<folder>/ from the pinned export in `source`."""
    export = EXPORTS[folder]
    onnx_path = source / export.file
    require_sha256(onnx_path.read_bytes(), export.sha256, str(onnx_path))
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / export.file
        shutil.copyfile(onnx_path, local)
        data = convert(local, Path(tmp) / "tf")
    equivalence = compare(onnx_path, data, check_crops(export.crop_scale))
    io = io_rows(data)
    manifest = {
        "id": folder.replace("_", "-") + "-float32",
        "description": export.description,
        "source": {"upstream": UPSTREAM, "file": export.file, "source_sha256": export.sha256,
                   "export": "torch.onnx.export of the published .pth (opset 13), see "
                             "../shared/models/minifasnet/README.md"},
        "conversion": {"tools": tool_versions(TOOLS),
                       "steps": ["sha256 of the ONNX checked against the pin",
                                 "onnx2tf float32 (NCHW -> NHWC), offline"],
                       "equivalence": equivalence},
        "licence": {"spdx": "Apache-2.0", "file": "LICENSE", "notice": "NOTICE"},
        "input": {**io["inputs"][0], "layout": "NHWC", "colour": "BGR", "normalisation": "none: raw 0..255 float32",
                  "crop": (f"detector face box (x, y, w, h) scaled about its centre by {export.crop_scale}, the scale "
                           "clamped so the box fits the image, the box shifted back inside the image, cut out, "
                           "resized to 80x80")},
        "outputs": [{**io["outputs"][0], "meaning": "3 logits; softmax; index 1 = real face (upstream averages the two "
                                                    "models' softmax)"}],
        "contract": {"crop_scale": export.crop_scale},  # edge_face.liveness.antispoof.MiniFASNet.from_registry
    }
    filename = f"{Path(export.file).stem}.tflite"
    write_model(MODELS / folder, filename, data, manifest,
                f"{filename}: converted (onnx2tf, float32) from {export.file}, the ONNX export of the weights "
                f"published by\nMinivision in Silent-Face-Anti-Spoofing ({UPSTREAM}).\n"
                "Copyright Minivision; licensed under the Apache License 2.0 (LICENSE). Changed: format only (PyTorch "
                "->\nONNX -> TFLite); weights unchanged.\n")
    shutil.copyfile(source / "LICENSE", MODELS / folder / "LICENSE")
    print(f"{folder}: {equivalence}", flush=True)


def main() -> None:
    """Run in a process of its own by `python -m models.build` (see onnx_convert.convert on why)."""
    parser = argparse.ArgumentParser(prog="python -m models.build.minifasnet", description=main.__doc__)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("folders", nargs="+", choices=list(EXPORTS))
    args = parser.parse_args()
    for folder in args.folders:
        build(folder, args.source)


if __name__ == "__main__":
    main()
