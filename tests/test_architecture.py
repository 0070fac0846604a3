"""The package's import direction holds: cli -> server -> {transport, runtime, pipeline, events, preview};
pipeline never imports protocol/transport; protocol and transport never import torch (so a game-side script can
use the client and the codec without torch installed)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "python_server" / "sdbridge"
HEAVY = ("torch", "diffusers", "transformers", "sdbridge.pipeline")


def imports_of(folder: str) -> dict[str, set[str]]:
    """Module path -> every module name it imports (absolute), for the .py files under `folder`."""
    found: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        if "_generated" in path.parts:
            continue
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(PACKAGE))] = names
    return found


def offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{module} imports {name}" for module, names in imports_of(folder).items() for name in sorted(names)
            if any(name == f or name.startswith(f + ".") for f in forbidden)]


def test_pipeline_never_imports_the_wire():
    assert offenders("pipeline", ("sdbridge.protocol", "sdbridge.transport", "sdbridge.server",
                                  "sdbridge.runtime", "zmq", "flatbuffers")) == []


@pytest.mark.parametrize("folder", ["protocol", "transport"])
def test_wire_never_imports_torch(folder):
    assert (PACKAGE / folder).is_dir(), f"sdbridge/{folder}/ is missing (update this test if it moved)"
    assert offenders(folder, HEAVY) == []


def test_client_import_does_not_load_torch():
    """A Blender or Godot script can use the client without torch installed."""
    assert (PACKAGE / "transport" / "client.py").is_file(), "sdbridge/transport/client.py is missing"
    code = "import sys, sdbridge.transport.client; print(sorted(m for m in sys.modules if m.split('.')[0] in "
    code += "('torch', 'diffusers', 'transformers')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_importing_the_package_has_no_side_effects():
    code = "import logging, sdbridge, sdbridge.pipeline, sdbridge.cli; print(len(logging.getLogger().handlers))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "0"  # importing configures no logging and prints nothing
