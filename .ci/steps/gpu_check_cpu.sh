#!/usr/bin/env bash
# CI step: the prepared GPU check's CPU run (scripts/gpu_check.sh --cpu: tiny shapes, a few frames), so the script
# that will run on a GPU machine cannot rot, and the `slow` tests once (pytest -m slow: they are deselected from
# the main pytest run by pyproject's addopts; today that is sd-turbo-shaped loaded on the CPU with frames run,
# 75 s on a shared, loaded 2-core machine). Runs from the repository root. Prints "N passed, N failed".
set -u

PYTHON="${PYTHON:-.venv/bin/python}"
export PYTHON

passed=0
failed=0
run() {
    echo "== $*"
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $*"; fi
}

run bash scripts/gpu_check.sh --cpu
run "$PYTHON" -m pytest -q -p no:cacheprovider -m slow tests

echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
