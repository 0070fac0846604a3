#!/usr/bin/env bash
# CI step: the generated FlatBuffers code and the golden messages are up to date with schemas/bridge.fbs.
# (The Python protocol tests run in the main pytest run; only the flatc checks live here.)
# Runs from the repository root. Prints "N passed, N failed". scripts/test_all.sh installed Debian's flatc
# 2.0.8 before pytest (the codegen tests need it too); run alone, this installs it when missing.
set -u

PYTHON="${PYTHON:-python3}"

bash "$(dirname "$0")/../../scripts/install_tools.sh" protocol || { echo "0 passed, 1 failed"; exit 1; }
# flatc itself only; the golden check also needs nothing beyond the standard library.

passed=0
failed=0
run() {
    echo "== $*"
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $*"; fi
}

run flatc --version
run "$PYTHON" schemas/codegen.py --check
run "$PYTHON" schemas/golden/make_golden.py --check

echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
