"""The development tools stay out of the runtime package: edge_face imports edge_face_tools only where its CLI hands
`bench | calibrate | fit-occlusion` over, and where the tools are not installed (the appliance) those commands
say how to install them instead of failing with an ImportError."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import edge_face
from edge_face.cli import TOOLS_MISSING, main

RUNTIME = Path(edge_face.__file__).parent
TOOL_COMMANDS = [["bench", "lfw", "--data", "DIR"], ["calibrate", "--data", "DIR"], ["fit-occlusion", "--data", "DIR"]]


def _imports_tools(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        if any(n == "edge_face_tools" or n.startswith("edge_face_tools.") for n in names):
            return True
    return False


def test_only_the_cli_imports_the_tools():
    assert [p.relative_to(RUNTIME).as_posix() for p in sorted(RUNTIME.rglob("*.py")) if _imports_tools(p)] == ["cli.py"]


@pytest.mark.parametrize("argv", TOOL_COMMANDS, ids=lambda a: a[0])
def test_tool_commands_without_the_tools_exit_2_saying_how_to_install_them(argv, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "edge_face_tools", None)  # the import fails, as where they are not installed
    assert main(argv) == 2
    assert TOOLS_MISSING in capsys.readouterr().err


def test_tool_commands_hand_their_arguments_to_the_tools(monkeypatch):
    from edge_face_tools import commands

    seen = []
    monkeypatch.setattr(commands, "bench", lambda args: seen.append(args) or 0)
    assert main(["bench", "liveness", "--data", "DIR", "--json", "--max-video-seconds", "45"]) == 0
    assert (seen[0].which, seen[0].data, seen[0].json, seen[0].max_video_seconds) == ("liveness", "DIR", True, 45.0)
    assert seen[0].all_cues is False  # the service's own cues unless asked
    assert main(["bench", "liveness", "--data", "DIR", "--all-cues"]) == 0 and seen[1].all_cues is True
