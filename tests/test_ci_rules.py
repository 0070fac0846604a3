"""CI's own rules (scripts/test_all.sh, tests/conftest.py): a run that collects nothing fails, tools are installed
before pytest, and with SDBRIDGE_NO_SKIP=1 only `gpu`-marked tests may skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SKIPPING = '''
import pytest

def test_skips_for_a_missing_tool():
    pytest.skip("flatc is not installed")

@pytest.mark.gpu
def test_needs_a_gpu():
    pytest.skip("no CUDA here")

def test_runs():
    pass
'''


def _pytest(folder: Path, no_skip: bool) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SDBRIDGE_NO_SKIP": "1" if no_skip else "0"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
                           "--rootdir", str(folder), str(folder)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_no_skip_fails_a_skip_that_is_not_gpu_marked(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text(SKIPPING, encoding="utf-8")
    strict = _pytest(tmp_path, no_skip=True)
    assert strict.returncode == 1, strict.stdout
    assert "1 failed, 1 passed, 1 skipped" in strict.stdout, strict.stdout
    assert "skipped (Skipped: flatc is not installed) but not marked gpu" in strict.stdout
    relaxed = _pytest(tmp_path, no_skip=False)
    assert relaxed.returncode == 0 and "1 passed, 2 skipped" in relaxed.stdout, relaxed.stdout


def test_test_all_fails_on_no_tests_and_installs_tools_before_pytest() -> None:
    script = (ROOT / "scripts" / "test_all.sh").read_text(encoding="utf-8")
    assert "-ne 5" not in script and "!= 5" not in script, "pytest's exit 5 (no tests collected) must fail the run"
    assert "tests || status=1" in script
    tools, pytest_run = script.index("bash scripts/install_tools.sh"), script.index('"$PYTHON" -m pytest')
    assert tools < pytest_run and "export SDBRIDGE_NO_SKIP=1" in script[:pytest_run]
    for step in sorted((ROOT / ".ci" / "steps").glob("*.sh")):
        text = step.read_text(encoding="utf-8")
        assert "apt-get install" not in text, f"{step.name} installs packages itself: list them in install_tools.sh"


def test_plain_pytest_collects_the_tests_that_import_shared_fakes() -> None:
    """The README's `pytest tests/<folder>` (the console script, not `python -m pytest`, which puts the current
    folder on sys.path) must import the test modules that share fakes as `tests.<folder>.<module>`."""
    importing = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py")
                       if "\nfrom tests." in p.read_text(encoding="utf-8")
                       or "\nimport tests." in p.read_text(encoding="utf-8"))
    assert importing, "no test module imports a shared fake any more: this test has nothing to check"
    console = Path(sys.executable).with_name("pytest")
    done = subprocess.run([str(console), "--collect-only", "-q", "-p", "no:cacheprovider", *importing[:12]],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "No module named 'tests'" not in done.stdout
