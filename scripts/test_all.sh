#!/usr/bin/env bash
# Quick start 2: install everything, then run every test: ruff, pytest, and each .ci/steps/*.sh
# (flatc freshness, C# with mono + NUnit, C++ with CMake + ctest). Each runner prints its counts;
# the script exits non-zero if any part failed, and pytest collecting no test at all (exit 5) is a failure.
# Every Debian tool a test needs (scripts/install_tools.sh) is installed BEFORE pytest runs, and
# SDBRIDGE_NO_SKIP=1 turns any skip of a test not marked `gpu` into a failure (tests/conftest.py).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh || exit 1
export PYTHON="$PWD/${VENV:-.venv}/bin/python"
export PATH="$PWD/${VENV:-.venv}/bin:$PATH"
status=0

echo "== ruff"
"$PYTHON" -m ruff check python_server tests || status=1

echo "== tools (flatc, C++ and C# toolchains, glslang, chromium + chromedriver)"
bash scripts/install_tools.sh || status=1
export SDBRIDGE_REQUIRE_BROWSER=1   # the preview browser tests fail instead of skipping without a browser
export SDBRIDGE_NO_SKIP=1           # only `gpu`-marked tests may skip

echo "== pytest"
# Any non-zero exit fails the run, 5 (no tests collected) included: a moved tests folder must not pass.
"$PYTHON" -m pytest -q -p no:cacheprovider --durations=20 --junitxml=out/pytest.xml tests || status=1

for step in .ci/steps/*.sh; do
    [ -e "$step" ] || continue
    echo "== $step"
    bash "$step" || { echo "step $step FAILED"; status=1; }
done
exit $status
