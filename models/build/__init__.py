"""The model build: every artefact in models/<folder>/ made from pinned sources, checked, and described by its
manifest.json. `python -m models.build` (from the repository root, in the venv of models/requirements-build.txt)
runs it; see models/README.md.

Only paths live here: models.build.crops runs in the project's own venv, which has none of the build tools.
"""
from __future__ import annotations

from pathlib import Path

MODELS = Path(__file__).resolve().parent.parent
ROOT = MODELS.parent
BUILD = MODELS / ".build"  # downloads, intermediate files and calibration crops (gitignored)
