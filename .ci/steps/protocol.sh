#!/usr/bin/env bash
# CI step: the generated FlatBuffers code and the golden messages are up to date with schemas/bridge.fbs.
# (The Python protocol tests run in the main pytest run; only the flatc checks live here.)
# Runs from the repository root. Installs Debian's flatc 2.0.8 if missing. Prints "N passed, N failed".
set -u

PYTHON="${PYTHON:-python3}"

if ! command -v flatc >/dev/null 2>&1 || ! flatc --version | grep -q "flatc version 2.0.8"; then
    SUDO=""
    if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
    $SUDO apt-get update -o DPkg::Lock::Timeout=600 >/dev/null
    $SUDO apt-get install -y -o DPkg::Lock::Timeout=600 flatbuffers-compiler >/dev/null
fi
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
