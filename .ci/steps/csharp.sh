#!/usr/bin/env bash
# CI step for the Unity package's engine-free C# core: builds it with mono's mcs (C# 7.2) against
# Debian's FlatBuffers 2.0.8 C# runtime (fetched as a source package, never committed), then runs the NUnit 2.6
# tests: ZMTP unit tests, golden bytes both ways, both transports against a pyzmq ROUTER, and end to end
# against the real Python server with the tiny model (the tests start and stop the server themselves).
# Prints "N passed, N failed" on its own line and exits non-zero on any failure, missing dependency or
# timeout. Run from the repository root: bash .ci/steps/csharp.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
OUT="$ROOT/build/csharp"

# scripts/test_all.sh installed mono and NUnit before pytest; run alone, this installs what is missing.
bash "$ROOT/scripts/install_tools.sh" csharp
# The tests drive pyzmq directly and the sdbridge server (the package itself must be importable).
if ! "$PYTHON" -c "import zmq, sdbridge" >/dev/null 2>&1; then
  "$PYTHON" -m pip install -q -e "$ROOT"
fi

timeout 600 bash "$ROOT/unity_package/Tests~/build.sh" "$OUT"

export SDBRIDGE_TEST_PYTHON="$(command -v "$PYTHON" || echo "$PYTHON")"
export SDBRIDGE_TEST_TOOLS="$ROOT/unity_package/Tests~/Tools"
export SDBRIDGE_TEST_GOLDEN="$ROOT/schemas/golden"
export SDBRIDGE_TEST_REQUIRE=1   # a missing dependency fails the run instead of skipping tests
export PYTHONUNBUFFERED=1
# The tiny-model server these tests start runs torch on one thread: with two, its OpenMP threads spin against the
# test process and the client on a 2-core machine, and a tiny frame took seconds instead of ~50 ms (RELIABILITY.md).
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

RESULT="$OUT/TestResult.xml"
rm -f "$RESULT"
set +e
(cd "$OUT" && timeout --kill-after=10 600 nunit-console -nologo -labels -xml="$RESULT" StreamDiffusion.Bridge.Core.Tests.dll)
rc=$?
set -e

if [[ ! -f "$RESULT" ]]; then
  echo "csharp: nunit-console produced no result file (exit $rc; 124 means the 600 s timeout hit)"
  echo "0 passed, 1 failed"
  exit 1
fi
read -r total failures errors ignored notrun < <("$PYTHON" - "$RESULT" <<'PY'
import sys
import xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
a = r.attrib
print(a.get("total", "0"), a.get("failures", "0"), a.get("errors", "0"), a.get("ignored", "0"), a.get("not-run", "0"))
PY
)
failed=$((failures + errors))
passed=$((total - failed))
if (( ignored > 0 )); then
  echo "csharp: $ignored tests were ignored (SDBRIDGE_TEST_REQUIRE=1 should make that impossible)"
fi
echo "$passed passed, $failed failed"
if (( failed > 0 || rc != 0 || total == 0 )); then
  exit 1
fi
