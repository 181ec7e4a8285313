"""The test fixtures' photos (and insightface's mask textures), for the tools that need real faces: soak, fuzz,
native and the occluders. `python -m tests.fixtures` fetches them (`make fixtures`, which `make soak` and
`make fuzz` run first); the tools only read the folder, so no tool imports test code."""
from __future__ import annotations

import os
from pathlib import Path


def folder() -> Path:
    """$EDGE_FACE_FIXTURES, else ~/.cache/edge_face/fixtures: where tests/fixtures.py caches them."""
    return Path(os.environ.get("EDGE_FACE_FIXTURES", Path.home() / ".cache" / "edge_face" / "fixtures"))


def require(*names: str) -> Path:
    """The folder, once every named photo is in it; else stop with how to fetch them."""
    root = folder()
    missing = [n for n in names if not (root / n).is_file()]
    if missing:
        raise SystemExit(f"fixture photos missing in {root}: {', '.join(missing)} "
                         "(fetch them: make fixtures, or python -m tests.fixtures)")
    return root
