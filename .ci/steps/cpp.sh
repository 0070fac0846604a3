#!/usr/bin/env bash
# CI step for the Unreal plugin's engine-free C++17 core: configures and builds it with CMake
# (warnings as errors) against Debian's cppzmq, libzmq and flatbuffers 2.0.8 headers and GoogleTest sources,
# then runs ctest twice: a normal build and one with -fsanitize=address,undefined. The end-to-end tests
# start and stop the real Python server themselves (`$PYTHON -m sdbridge.cli serve`, free port, SIGTERM on
# exit, PR_SET_PDEATHSIG so a crashed test cannot leave it running). Prints "N passed, N failed" (both runs
# summed) on its own line and exits non-zero on any failure. Run from the repository root.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
CORE="$ROOT/unreal_plugin/StreamDiffusionBridge/core"
JOBS="$(nproc 2>/dev/null || echo 2)"

# scripts/test_all.sh installed the toolchain before pytest; run alone, this installs what is missing.
bash "$ROOT/scripts/install_tools.sh" cpp
# The end-to-end tests run the real server: the package must be importable (CPU torch pinned).
if ! "$PYTHON" -c "import sdbridge.cli, zmq, torch" >/dev/null 2>&1; then
  "$PYTHON" -m pip install -q "torch==2.13.0" -e "$ROOT"
fi
PYTHON_ABS="$(command -v "$PYTHON" || echo "$PYTHON")"
# The tests run in the build folder: make a relative path absolute (without resolving the venv's symlink).
[[ "$PYTHON_ABS" == /* ]] || PYTHON_ABS="$ROOT/$PYTHON_ABS"
export SDBRIDGE_REQUIRE_E2E=1   # a missing server fails the run instead of skipping the end-to-end tests
export PYTHONUNBUFFERED=1
# The tiny-model server these tests start runs torch on one thread: with two, its OpenMP threads spin against the
# test process and the client on a 2-core machine, and a tiny frame took seconds instead of ~50 ms (RELIABILITY.md).
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

total_passed=0
total_failed=0

run_variant() {  # name, extra cmake flags...
  local name="$1"; shift
  local build="$ROOT/build/cpp-$name"
  mkdir -p "$ROOT/build"
  echo "cpp[$name]: configure + build in $build"
  local ok=1
  timeout 900 cmake -S "$CORE" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSDB_PYTHON="$PYTHON_ABS" "$@" \
    >"$build.configure.log" 2>&1 || ok=0
  if (( ok )); then
    timeout 1200 cmake --build "$build" -j "$JOBS" >"$build.build.log" 2>&1 || ok=0
  fi
  if (( ! ok )); then
    echo "cpp[$name]: configure/build FAILED; last lines:"
    tail -40 "$build.configure.log" "$build.build.log" 2>/dev/null || true
    total_failed=$((total_failed + 1))
    return
  fi
  local junit="$build/ctest.xml"
  rm -f "$junit"
  set +e
  (cd "$build" && timeout --kill-after=10 1500 ctest --timeout 300 -j "$JOBS" --output-on-failure \
     --output-junit "$junit")
  local rc=$?
  set -e
  if [[ ! -f "$junit" ]]; then
    echo "cpp[$name]: ctest wrote no result file (exit $rc; 124 = timeout)"
    total_failed=$((total_failed + 1))
    return
  fi
  local counts
  counts="$("$PYTHON" - "$junit" <<'PY'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
tests = sum(int(s.get("tests", 0)) for s in suites)
failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) + int(s.get("disabled", 0)) for s in suites)
print(tests - failed - skipped, failed, skipped)
PY
)"
  local p f s
  read -r p f s <<<"$counts"
  echo "cpp[$name]: $p passed, $f failed, $s skipped (ctest exit $rc)"
  if (( rc != 0 && f == 0 )); then f=1; fi   # ctest failed without a failing test (e.g. discovery)
  if (( s > 0 )); then f=$((f + s)); fi       # nothing may be skipped in CI
  total_passed=$((total_passed + p))
  total_failed=$((total_failed + f))
}

run_variant normal
run_variant asan -DSDB_SANITIZE=ON -DSDB_BUILD_BENCH=OFF

echo "$total_passed passed, $total_failed failed"
(( total_failed == 0 ))
