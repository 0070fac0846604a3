"""Fixtures of the protocol tests: the schemas/ code generator loaded as a module (it is a script, not a package), and
the peak allocation of a decode that must be refused."""

from __future__ import annotations

import importlib.util
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from sdbridge.errors import ProtocolError

ROOT = Path(__file__).resolve().parents[2]


def load_module(path: Path, name: str) -> ModuleType:
    """Import the Python file at `path` as module `name` (registered in sys.modules)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_emitter(filename: str) -> ModuleType:
    """An emitter module from schemas/ (e.g. codegen_params_cpp.py), with schemas/ on the path while it imports the
    modules it uses from beside it (codegen_model, codegen_mirrors)."""
    sys.path.insert(0, str(ROOT / "schemas"))
    try:
        return load_module(ROOT / "schemas" / filename, filename.removesuffix(".py") + "_under_test")
    finally:
        sys.path.remove(str(ROOT / "schemas"))


@pytest.fixture(scope="session")
def codegen() -> ModuleType:
    """schemas/codegen.py, imported once."""
    return load_module(ROOT / "schemas" / "codegen.py", "sdbridge_codegen_under_test")


def refused_with_peak(call: Callable[[], object]) -> tuple[ProtocolError, int]:
    """Run `call`, which must raise ProtocolError: (that error, the peak bytes tracemalloc saw allocated meanwhile)."""
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError) as info:
            call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return info.value, peak
