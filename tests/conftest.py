from __future__ import annotations

from pathlib import Path

import pytest

from tests import fixtures


@pytest.fixture(scope="session")
def photos() -> Path:
    """Folder of real test photos (obama*.jpg, biden.jpg, t1.jpg: a group of four, ...)."""
    return fixtures.ensure()
