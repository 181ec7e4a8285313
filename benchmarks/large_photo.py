"""`python benchmarks/large_photo.py ...`: the same as `python -m edge_face_tools.large_photo ...` (tools/edge_face_tools/large_photo.py).

The benchmarks live in the tools package, which `make setup` installs; this file only gives them their usual path.
"""
import sys

from edge_face_tools.large_photo import main

if __name__ == "__main__":
    sys.exit(main())
