#!/usr/bin/env bash
# CI step for the Unity package's engine-free C# core: builds it with mono's mcs (C# 7.2) twice, against
# Debian's FlatBuffers 2.0.8 C# runtime and against the Google.FlatBuffers release Unity users get (both fetched as
# Debian source packages, never committed), and runs the NUnit 2.6 tests against each: ZMTP unit tests, golden
# bytes both ways, both transports against a pyzmq ROUTER, and end to end against the real Python server with the tiny model (the tests start and stop the server themselves).
# Prints "N passed, N failed" on its own line and exits non-zero on any failure, missing dependency or
# timeout. Run from the repository root: bash .ci/steps/csharp.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
# an absolute path: the tests start it from their own working folder (a relative .venv/bin/python failed them all)
PYTHON="$(command -v "$PYTHON" || echo "$PYTHON")"
[[ "$PYTHON" == /* ]] || PYTHON="$PWD/$PYTHON"
cd "$ROOT"
OUT="$ROOT/build/csharp"

# scripts/test_all.sh installed mono and NUnit before pytest; run alone, this installs what is missing.
bash "$ROOT/scripts/install_tools.sh" csharp
# The tests drive pyzmq directly and the sdbridge server (the package itself must be importable).
if ! "$PYTHON" -c "import zmq, sdbridge" >/dev/null 2>&1; then
  "$PYTHON" -m pip install -q -e "$ROOT"
fi

export SDBRIDGE_TEST_PYTHON="$(command -v "$PYTHON" || echo "$PYTHON")"
export SDBRIDGE_TEST_TOOLS="$ROOT/unity_package/Tests~/Tools"
export SDBRIDGE_TEST_GOLDEN="$ROOT/schemas/golden"
export SDBRIDGE_TEST_REQUIRE=1   # a missing dependency fails the run instead of skipping tests
export PYTHONUNBUFFERED=1
# The tiny-model server these tests start runs torch on one thread: with two, its OpenMP threads spin against the
# test process and the client on a 2-core machine, and a tiny frame took seconds instead of ~50 ms (RELIABILITY.md).
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

passed=0
failed=0
# run_suite OUT_DIR RUNTIME: build the core and its tests against one FlatBuffers runtime and run every test.
#   debian: Debian's 2.0.8 runtime, the one flatc 2.0.8's output is written for (namespace FlatBuffers);
#   nuget:  the Google.FlatBuffers release unity_package/package.json pins, what Unity users get (UnityNuGet),
#           built from that release's own sources, with SDBRIDGE_FLATBUFFERS_NUGET as the core asmdef defines it.
run_suite() {
  local out="$1" runtime="$2" result="$1/TestResult.xml" rc
  if ! timeout 600 bash "$ROOT/unity_package/Tests~/build.sh" "$out" "$runtime"; then
    echo "csharp [$runtime]: build failed"
    failed=$((failed + 1))
    return
  fi
  rm -f "$result"
  set +e
  (cd "$out" && timeout --kill-after=10 600 nunit-console -nologo -labels -xml="$result" StreamDiffusion.Bridge.Core.Tests.dll)
  rc=$?
  set -e
  if [[ ! -f "$result" ]]; then
    echo "csharp [$runtime]: nunit-console produced no result file (exit $rc; 124 means the 600 s timeout hit)"
    failed=$((failed + 1))
    return
  fi
  local total failures errors ignored notrun
  read -r total failures errors ignored notrun < <("$PYTHON" - "$result" <<'PY'
import sys
import xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
a = r.attrib
print(a.get("total", "0"), a.get("failures", "0"), a.get("errors", "0"), a.get("ignored", "0"), a.get("not-run", "0"))
PY
)
  if (( ignored > 0 )); then
    echo "csharp [$runtime]: $ignored tests were ignored (SDBRIDGE_TEST_REQUIRE=1 should make that impossible)"
  fi
  echo "csharp [$runtime]: $((total - failures - errors)) passed, $((failures + errors)) failed"
  passed=$((passed + total - failures - errors))
  failed=$((failed + failures + errors))
  if (( rc != 0 && failures + errors == 0 )) || (( total == 0 )); then
    failed=$((failed + 1))
  fi
}

run_suite "$OUT" debian
run_suite "$ROOT/build/csharp_nuget" nuget
echo "$passed passed, $failed failed"
if (( failed > 0 )); then
  exit 1
fi
