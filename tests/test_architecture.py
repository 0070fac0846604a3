"""The package's import direction holds: cli -> server -> {transport, runtime, pipeline, events, preview};
pipeline never imports protocol/transport; protocol and transport never import torch (so a game-side script can
use the client and the codec without torch installed); and no class is over ~400 lines and no function over ~60
(one responsibility each), generated code aside."""

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


# ---------------------------------------------------------------------------------------------- size limits
#: One responsibility per class and per function: above these sizes (lines from `class`/`def` to the last line of
#: the body, docstring and comments included) a class or function is split. Generated code (_generated/) aside.
MAX_CLASS_LINES = 400
MAX_FUNCTION_LINES = 60

#: Known offenders owned by another helper while this test was written: "path::qualified name" -> the most lines
#: allowed (the size when excused: it may shrink, never grow). Each entry says why it is excused; remove an entry
#: when its code is split.
SIZE_ALLOWANCES: dict[str, tuple[int, str]] = {}


def sizes() -> list[tuple[str, str, int]]:
    """(kind, "path::qualified name", lines) of every class and function in the package (generated code aside)."""
    found: list[tuple[str, str, int]] = []

    def visit(node: ast.AST, prefix: str, path: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                kind = "class" if isinstance(child, ast.ClassDef) else "function"
                assert child.end_lineno is not None
                found.append((kind, f"{path}::{name}", child.end_lineno - child.lineno + 1))
                visit(child, f"{name}.", path)
            else:
                visit(child, prefix, path)

    for file in sorted(PACKAGE.rglob("*.py")):
        if "_generated" in file.parts:
            continue
        visit(ast.parse(file.read_text(encoding="utf-8")), "", str(file.relative_to(PACKAGE)))
    return found


def test_sizes_are_measured():
    """The measurement sees the package (a moved folder would make the size test pass vacuously)."""
    found = dict((name, lines) for _kind, name, lines in sizes())
    assert len(found) > 500
    assert found["server.py::BridgeServer.start"] > 10 and "serving/dispatcher.py::Dispatcher.handle" in found


def test_no_class_or_function_is_too_big():
    """No class over MAX_CLASS_LINES and no function over MAX_FUNCTION_LINES, except the named allowances
    (which may not grow)."""
    offenders = []
    for kind, name, lines in sizes():
        limit = MAX_CLASS_LINES if kind == "class" else MAX_FUNCTION_LINES
        if name in SIZE_ALLOWANCES:
            limit = SIZE_ALLOWANCES[name][0]
        if lines > limit:
            offenders.append(f"{kind} {name}: {lines} lines (limit {limit})")
    assert offenders == [], "split these (one responsibility each):\n" + "\n".join(offenders)


def test_size_allowances_name_real_code():
    """Every allowance names a class or function that exists (a renamed one would excuse nothing)."""
    names = {name for _kind, name, _lines in sizes()}
    assert sorted(set(SIZE_ALLOWANCES) - names) == []


def test_the_server_knows_rules_recorder_and_preview_only_through_their_observers():
    """Only the *_observer modules of sdbridge.serving import the game-event rules, the recorder and the preview
    page; the server and its other parts reach them through the SessionObserver interface."""
    optional = ("sdbridge.events", "sdbridge.record", "sdbridge.preview")
    found = [f"{module} imports {name}" for module, names in imports_of("serving").items()
             if not module.endswith("_observer.py")
             for name in sorted(names) if any(name == f or name.startswith(f + ".") for f in optional)]
    server = imports_of(".").get("server.py", set())
    found += [f"server.py imports {name}" for name in sorted(server)
              if any(name == f or name.startswith(f + ".") for f in optional)]
    assert imports_of("serving"), "serving/ is missing: was it moved? update this test"
    assert found == []
