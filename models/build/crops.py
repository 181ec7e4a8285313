"""Calibration and held-out face crops for the int8 builds, aligned by edge_face itself.

Two halves: `face_crops()` runs in the build venv and starts `python -m models.build.crops` with the project's
venv python (edge_face and its runtime installed, the build tools not), whose `main()` detects and aligns every
listed photo exactly as the service does. Only numpy and the standard library are imported at the top, so both
venvs can import this module.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.build import BUILD, MODELS, ROOT
from models.build.fetch import sha256

# deterministic samples of an LFW-layout folder (--calibration-data)
CALIB_PHOTOS = 300
HELDOUT_PHOTOS = 200


@dataclass(frozen=True)
class CropSet:
    crops: np.ndarray  # (N, 112, 112, 3) BGR uint8
    paths: list[str]  # relative to the data folder's images/
    record: dict[str, Any]  # what the manifests say about it (no image content)


def sample_photos(folder: Path) -> tuple[list[str], list[str]]:
    """Deterministic calibration and held-out samples of an LFW-layout folder (images/<identity>/*.jpg): all photos
    ordered by the sha256 of their relative path; the first CALIB_PHOTOS calibrate, the next HELDOUT_PHOTOS check."""
    images = folder / "images"
    paths = sorted(p.relative_to(images).as_posix() for p in images.glob("*/*.jpg"))
    if len(paths) < CALIB_PHOTOS + HELDOUT_PHOTOS:
        raise SystemExit(f"{images}: {len(paths)} photos, need at least {CALIB_PHOTOS + HELDOUT_PHOTOS}")
    ordered = sorted(paths, key=lambda p: hashlib.sha256(p.encode()).hexdigest())
    return ordered[:CALIB_PHOTOS], ordered[CALIB_PHOTOS:CALIB_PHOTOS + HELDOUT_PHOTOS]


def list_sha256(paths: list[str]) -> str:
    return sha256("\n".join(sorted(paths)).encode())


def face_crops(folder: Path, paths: list[str], purpose: str, project_python: Path) -> CropSet:
    """Aligned crops of `paths` by the project's pipeline (edge_face.service.FaceService.locate, main face), cached
    in models/.build/calib/ under a key of the list and the detector file. Photos without a face are left out."""
    detector_sha = json.loads((MODELS / "yunet" / "manifest.json").read_text())["sha256"]
    key = sha256(json.dumps([folder.name, sorted(paths), detector_sha]).encode())[:16]
    out = BUILD / "calib" / f"{purpose}-{key}.npz"
    if not out.exists():
        if not project_python.exists():
            raise SystemExit(f"{project_python} not found: the calibration crops need the project's venv "
                             "(edge_face installed); pass --project-python")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp.npz")
        print(f"aligning {len(paths)} {purpose} photos of {folder.name} with the project's pipeline ...", flush=True)
        res = subprocess.run([str(project_python), "-m", "models.build.crops", "--images", str(folder / "images"),
                              "--out", str(tmp)], input="\n".join(paths), check=True, capture_output=True, text=True,
                             cwd=ROOT, env=os.environ | {"EDGE_FACE_MODEL_VARIANT": "float32"})
        print(f"  {json.loads(res.stdout.strip().splitlines()[-1])['crops']} crops", flush=True)
        tmp.rename(out)
    with np.load(out) as z:
        crops, used = z["crops"], [str(p) for p in z["paths"]]
    if crops.shape[1:] != (112, 112, 3) or crops.dtype != np.uint8 or len(crops) < 0.9 * len(paths):
        raise SystemExit(f"{out}: {crops.shape} {crops.dtype} crops from {len(paths)} photos")
    record = {"data": folder.name, "layout": "images/<identity>/*.jpg",
              "selection": f"all photos ordered by sha256 of the path relative to images/; "
                           f"{'first' if purpose == 'calibration' else 'next'} {len(paths)}",
              "photos": len(paths), "crops": len(crops), "photos_without_face": len(paths) - len(crops),
              "paths_sha256": list_sha256(used),
              "paths_sha256_rule": "sha256 of the sorted relative paths of the cropped photos joined by newlines",
              "crops_sha256": sha256(crops.tobytes()),
              "crop": "edge_face FaceService.locate(photo)[0].crop (YuNet float32 + 5-point alignment, main face), "
                      "112x112 BGR uint8"}
    return CropSet(crops, used, record)


def main() -> None:
    """In the project's venv: the main face of every photo listed on stdin, aligned as the service aligns it,
    saved as one .npz (crops, paths); prints a JSON summary."""
    from edge_face.config import Config
    from edge_face.imaging import decode_image
    from edge_face.service import FaceService

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--images", type=Path, required=True, help="folder the listed paths are relative to")
    parser.add_argument("--out", type=Path, required=True, help=".npz to write")
    args = parser.parse_args()
    svc = FaceService.from_config(Config())
    crops, used, no_face = [], [], []
    for rel in sys.stdin.read().split("\n"):
        faces = svc.locate(decode_image((args.images / rel).read_bytes()))
        if faces:
            crops.append(faces[0].crop)
            used.append(rel)
        else:
            no_face.append(rel)
    np.savez(args.out, crops=np.stack(crops).astype(np.uint8), paths=np.array(used))
    print(json.dumps({"crops": len(used), "no_face": no_face}))


if __name__ == "__main__":
    main()
