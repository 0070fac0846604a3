"""Fixtures of the protocol tests: the schemas/ code generator loaded as a module (it is a script, not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_module(path: Path, name: str) -> ModuleType:
    """Import the Python file at `path` as module `name` (registered in sys.modules)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def codegen() -> ModuleType:
    """schemas/codegen.py, imported once."""
    return load_module(ROOT / "schemas" / "codegen.py", "sdbridge_codegen_under_test")
