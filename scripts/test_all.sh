#!/usr/bin/env bash
# Quick start 2: install everything, then run every test: ruff, pytest, and each .ci/steps/*.sh
# (flatc freshness, C# with mono + NUnit, C++ with CMake + ctest). Each runner prints its counts;
# the script exits non-zero if any part failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh || exit 1
export PYTHON="$PWD/${VENV:-.venv}/bin/python"
export PATH="$PWD/${VENV:-.venv}/bin:$PATH"
status=0

echo "== ruff"
"$PYTHON" -m ruff check python_server tests || status=1

echo "== browser (chromium + chromedriver for tests/preview)"
bash scripts/install_browser.sh || status=1
export SDBRIDGE_REQUIRE_BROWSER=1   # the preview browser tests fail instead of skipping without a browser

echo "== pytest"
"$PYTHON" -m pytest -q -p no:cacheprovider --junitxml=out/pytest.xml tests
code=$?
if [ "$code" -ne 0 ] && [ "$code" -ne 5 ]; then status=1; fi

for step in .ci/steps/*.sh; do
    [ -e "$step" ] || continue
    echo "== $step"
    bash "$step" || { echo "step $step FAILED"; status=1; }
done
exit $status
