"""`python benchmarks/liveness_windows.py ...`: the same as `python -m edge_face_tools.liveness_windows ...` (tools/edge_face_tools/liveness_windows.py).

The benchmarks live in the tools package, which `make setup` installs; this file only gives them their usual path.
"""
import sys

from edge_face_tools.liveness_windows import main

if __name__ == "__main__":
    sys.exit(main())
