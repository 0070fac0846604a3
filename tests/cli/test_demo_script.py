"""scripts/demo.sh installs only when the venv is missing or outdated (it ran pip on every start): install.sh
--if-needed skips pip when the venv was installed from the same pyproject.toml and install.sh and imports sdbridge
and torch. A fake venv (its python and sdbridge record their calls) stands in for the real one."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_PYTHON = """#!/usr/bin/env bash
echo "python $*" >> "{log}"
if [ "$1" = "-c" ]; then exit {imports}; fi
if [ "$1" = "-" ]; then cat > /dev/null; fi
exit 0
"""


def _fake_venv(tmp_path: Path, imports: int = 0) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    log = tmp_path / "calls.log"
    for name, text in (("python", _PYTHON.format(log=log, imports=imports)),
                       ("sdbridge", f'#!/usr/bin/env bash\necho "sdbridge $*" >> "{log}"\n')):
        (venv / "bin" / name).write_text(text)
        (venv / "bin" / name).chmod(0o755)
    return venv


def _demo(venv: Path) -> list[str]:
    log = venv.parent / "calls.log"
    log.unlink(missing_ok=True)
    subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh"), "--frames", "2"], check=True, timeout=60,
                   env={**os.environ, "VENV": str(venv)}, capture_output=True)
    return log.read_text().splitlines()


def _pip_calls(calls: list[str]) -> list[str]:
    return [c for c in calls if c.startswith("python -m pip")]


def test_the_second_demo_run_does_not_install(tmp_path: Path) -> None:
    venv = _fake_venv(tmp_path)
    first = _demo(venv)
    assert _pip_calls(first) and first[-1] == "sdbridge demo --frames 2"  # the first run installs
    second = _demo(venv)
    assert _pip_calls(second) == [] and second[-1] == "sdbridge demo --frames 2", second


@pytest.mark.parametrize("outdated", ["stamp", "import"])
def test_an_outdated_or_broken_venv_is_installed_again(tmp_path: Path, outdated: str) -> None:
    venv = _fake_venv(tmp_path, imports=1 if outdated == "import" else 0)
    _demo(venv)
    if outdated == "stamp":  # pyproject.toml or install.sh changed since
        (venv / ".sdbridge-install").write_text("another install\n")
    assert _pip_calls(_demo(venv))
