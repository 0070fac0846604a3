#!/usr/bin/env bash
# Builds the engine-free C# core and its NUnit tests with mono's mcs (C# 7.2), outside Unity:
#   build/csharp/FlatBuffers.dll                      (Debian's flatbuffers 2.0.8 sources, fetched, never committed)
#   build/csharp/StreamDiffusion.Bridge.Core.dll      (unity_package/Runtime/Core/**/*.cs)
#   build/csharp/StreamDiffusion.Bridge.Core.Tests.dll (unity_package/Tests/Core/**/*.cs, NUnit 2.6)
#   build/csharp/StreamDiffusion.Bridge.Bench.exe     (unity_package/Tests~/Bench/*.cs)
# Usage: bash unity_package/Tests~/build.sh [OUT_DIR] [debian|nuget]   (run from the repository root)
# `nuget` builds the same core and tests under SDBRIDGE_FLATBUFFERS_NUGET against the Google.FlatBuffers release
# that package.json pins (what Unity users get from UnityNuGet), built from that release's sources by
# Tools/fetch_flatbuffers_nuget_runtime.sh, instead of Debian's 2.0.8 runtime that flatc 2.0.8 matches.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:-$ROOT/build/csharp}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
PKG="$ROOT/unity_package"
MCS=(mcs -langversion:7.2 -unsafe -debug -nowarn:1591 -warnaserror-)
RUNTIME="${2:-debian}"
case "$RUNTIME" in
  debian)
    bash "$PKG/Tests~/Tools/fetch_flatbuffers_runtime.sh" "$OUT"
    FB_DLL="$OUT/FlatBuffers.dll" ;;
  nuget)
    bash "$PKG/Tests~/Tools/fetch_flatbuffers_nuget_runtime.sh" "$OUT"
    FB_DLL="$OUT/Google.FlatBuffers.dll"
    MCS+=(-define:SDBRIDGE_FLATBUFFERS_NUGET) ;;
  *) echo "build.sh: runtime '$RUNTIME' is not one of: debian, nuget" >&2; exit 2 ;;
esac

mapfile -t CORE_SRC < <(find "$PKG/Runtime/Core" -name '*.cs' | sort)
"${MCS[@]}" -target:library -r:"$FB_DLL" -out:"$OUT/StreamDiffusion.Bridge.Core.dll" "${CORE_SRC[@]}"
# Mono resolves DllImport("libzmq") through this map to Debian's libzmq5 (Unity uses its native plugin).
cat > "$OUT/StreamDiffusion.Bridge.Core.dll.config" <<'XML'
<configuration>
  <dllmap dll="libzmq" target="libzmq.so.5" os="linux"/>
  <dllmap dll="libzmq" target="libzmq.5.dylib" os="osx"/>
</configuration>
XML

NUNIT_DLL="$(ls /usr/lib/cli/nunit.framework-2.6*/nunit.framework.dll 2>/dev/null | head -n1 || true)"
if [[ -z "$NUNIT_DLL" ]]; then
  echo "nunit.framework.dll (NUnit 2.6) not found: apt-get install libnunit-cil-dev" >&2
  exit 1
fi
cp "$NUNIT_DLL" "$OUT/"
mapfile -t TEST_SRC < <(find "$PKG/Tests/Core" -name '*.cs' | sort)
"${MCS[@]}" -target:library -r:"$FB_DLL" -r:"$OUT/StreamDiffusion.Bridge.Core.dll" \
  -r:"$OUT/nunit.framework.dll" -r:System.Net.Http -out:"$OUT/StreamDiffusion.Bridge.Core.Tests.dll" "${TEST_SRC[@]}"

if [[ -d "$PKG/Tests~/Bench" ]]; then
  mapfile -t BENCH_SRC < <(find "$PKG/Tests~/Bench" -name '*.cs' | sort)
  if (( ${#BENCH_SRC[@]} )); then
    "${MCS[@]}" -target:exe -r:"$FB_DLL" -r:"$OUT/StreamDiffusion.Bridge.Core.dll" \
      -out:"$OUT/StreamDiffusion.Bridge.Bench.exe" "${BENCH_SRC[@]}"
  fi
fi
echo "built C# core and tests into $OUT"
