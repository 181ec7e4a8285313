"""The worst case of the photo path's face search: a 4000x3000 photo with no face, searched at the working side and
again at full size (each also exposure-normalised, the photo being dark). Prints JSON: the process's resident
memory added by the search and its time, first and repeated (the interpreters then exist), with the CPU flags.
No data folder: the photo is made here.

    python -m edge_face_tools.large_photo [--width 4000 --height 3000]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from edge_face.config import load_config
from edge_face.runtime.cpu import describe
from edge_face.services import wire_faces


def rss_mb() -> int:
    with open("/proc/self/status") as fh:
        return int(fh.read().split("VmRSS:")[1].split()[0]) // 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--width", type=int, default=4000)
    ap.add_argument("--height", type=int, default=3000)
    args = ap.parse_args(argv)
    finder = wire_faces(load_config()).detector
    photo = np.zeros((args.height, args.width, 3), np.uint8)
    before = rss_mb()
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        faces = finder.detect(photo)
        times.append(round(time.perf_counter() - t0, 3))
    print(json.dumps({"benchmark": "large_photo", "machine": describe(), "photo": f"{args.width}x{args.height}",
                      "faces": len(faces), "added_rss_mb": rss_mb() - before, "first_s": times[0],
                      "repeated_s": times[1]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
