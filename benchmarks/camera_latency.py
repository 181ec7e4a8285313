"""`python benchmarks/camera_latency.py ...`: the same as `python -m edge_face_tools.camera_latency ...` (tools/edge_face_tools/camera_latency.py).

The benchmarks live in the tools package, which `make setup` installs; this file only gives them their usual path.
"""
import sys

from edge_face_tools.camera_latency import main

if __name__ == "__main__":
    sys.exit(main())
