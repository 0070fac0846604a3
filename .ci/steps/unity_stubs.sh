#!/usr/bin/env bash
# CI step: type-check the Unity layer with mono's mcs against a small stub of exactly the Unity API
# members the package uses (unity_package/Tests~/UnityStubs, written from Unity's documented signatures), once
# per define combination. It catches wrong member names, signatures, types and C# beyond 7.2 in Runtime/Unity,
# Editor, Samples~ and Tests/Unity; it cannot catch runtime behaviour, shader compilation, serialization or
# anything the real engine does (no Unity editor runs here). Also compiles the core under SDBRIDGE_FLATBUFFERS_NUGET
# against the Google.FlatBuffers release package.json pins, built from that release's sources.
# Stub files: Editor*.cs -> UnityEditor stub assembly; InputSystem*.cs -> Unity.InputSystem stub assembly;
# every other *.cs (general stubs and the rendering stubs RenderingStubs*.cs) -> UnityEngine stub assembly.
# Prints "N passed, N failed" and exits non-zero on any failure. Run from the repository root.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PKG="$ROOT/unity_package"
STUBS="$PKG/Tests~/UnityStubs"
OUT="${UNITY_STUBS_OUT:-$ROOT/build/unity_stubs}"
mkdir -p "$OUT"
MCS=(mcs -langversion:7.2 -nologo -nowarn:1591,0618,0649,0414,0169 -warnaserror-)
passed=0
failed=0
check() {   # check NAME -- mcs arguments...
  local name="$1"
  shift
  if "${MCS[@]}" "$@" >"$OUT/last.log" 2>&1; then
    passed=$((passed + 1))
    echo "ok    $name"
  else
    failed=$((failed + 1))
    echo "FAIL  $name"
    grep -E "error CS" "$OUT/last.log" | sed 's/^/      /' | head -40
  fi
}
sources() { find "$@" -name '*.cs' 2>/dev/null | sort; }

# scripts/test_all.sh installed mono before pytest; run alone, this installs it when missing.
bash "$ROOT/scripts/install_tools.sh" csharp || { echo "0 passed, 1 failed"; exit 1; }
# Reuse the runtime csharp.sh fetched and built (same Debian source package), else fetch it here.
if [[ ! -f "$OUT/FlatBuffers.dll" && -f "$ROOT/build/csharp/FlatBuffers.dll" && -d "$ROOT/build/csharp/src" ]]; then
  cp "$ROOT/build/csharp/FlatBuffers.dll" "$OUT/" && cp -r "$ROOT/build/csharp/src" "$OUT/"
fi
bash "$PKG/Tests~/Tools/fetch_flatbuffers_runtime.sh" "$OUT" >/dev/null || { echo "0 passed, 1 failed"; exit 1; }

# The NuGet runtime Unity users get: the Google.FlatBuffers release package.json pins, built from its own sources
# (Tools/fetch_flatbuffers_nuget_runtime.sh; csharp.sh also runs every core test against it).
bash "$PKG/Tests~/Tools/fetch_flatbuffers_nuget_runtime.sh" "$OUT/nuget_runtime" >/dev/null ||
  { echo "cannot fetch or build the Google.FlatBuffers runtime package.json pins"; echo "0 passed, 1 failed"; exit 1; }
NUGET_VERSION="$(cat "$OUT/nuget_runtime/VERSION")"
mapfile -t CORE < <(sources "$PKG/Runtime/Core")
mkdir -p "$OUT/nuget"
check "core against Debian's FlatBuffers 2.0.8 (namespace FlatBuffers)" \
  -target:library -unsafe -r:"$OUT/FlatBuffers.dll" -out:"$OUT/StreamDiffusion.Bridge.Core.dll" "${CORE[@]}"
check "core with SDBRIDGE_FLATBUFFERS_NUGET against Google.FlatBuffers $NUGET_VERSION" \
  -target:library -unsafe -define:SDBRIDGE_FLATBUFFERS_NUGET -r:"$OUT/nuget_runtime/Google.FlatBuffers.dll" \
  -out:"$OUT/nuget/StreamDiffusion.Bridge.Core.dll" "${CORE[@]}"

mapfile -t ENGINE_STUBS < <(find "$STUBS" -name '*.cs' ! -name 'Editor*.cs' ! -name 'InputSystem*.cs' | sort)
mapfile -t EDITOR_STUBS < <(find "$STUBS" -name 'Editor*.cs' | sort)
mapfile -t INPUT_STUBS < <(find "$STUBS" -name 'InputSystem*.cs' | sort)
check "stubs: UnityEngine" -target:library -unsafe -out:"$OUT/UnityEngine.dll" "${ENGINE_STUBS[@]}"
check "stubs: UnityEditor" -target:library -r:"$OUT/UnityEngine.dll" -out:"$OUT/UnityEditor.dll" "${EDITOR_STUBS[@]}"
check "stubs: Unity.InputSystem" -target:library -r:"$OUT/UnityEngine.dll" -out:"$OUT/Unity.InputSystem.dll" \
  "${INPUT_STUBS[@]}"

# No FlatBuffers DLL here: only the core's asmdef (and the tests' asmdef) reference it, so Runtime/Unity, Editor
# and Samples~ must compile without it, as Unity compiles them.
ENGINE_REFS=(-r:"$OUT/UnityEngine.dll" -r:"$OUT/StreamDiffusion.Bridge.Core.dll")

# Negative controls: the stubs must reject a misspelt member and a wrong signature, or the check proves nothing.
rejects() {   # rejects NAME SOURCE
  printf '%s\n' "$2" >"$OUT/negative.cs"
  if "${MCS[@]}" -target:library -r:"$OUT/UnityEngine.dll" -out:"$OUT/negative.dll" "$OUT/negative.cs" >/dev/null 2>&1; then
    failed=$((failed + 1))
    echo "FAIL  negative control accepted: $1"
  else
    passed=$((passed + 1))
    echo "ok    negative control rejected: $1"
  fi
}
rejects "misspelt member Debug.Logg" 'class N { void F() { UnityEngine.Debug.Logg("x"); } }'
rejects "wrong argument type Texture2D.Apply(string)" 'class N { void F(UnityEngine.Texture2D t) { t.Apply("x"); } }'
mapfile -t RUNTIME < <(sources "$PKG/Runtime/Unity")
# Unity 6 code paths (URP RenderGraph) sit behind UNITY_6000_0_OR_NEWER: check them too where they exist.
variants=("" "SDBRIDGE_URP" "SDBRIDGE_HDRP")
if grep -rqs "UNITY_6000_0_OR_NEWER" "$PKG/Runtime/Unity"; then
  variants+=("UNITY_6000_0_OR_NEWER" "SDBRIDGE_URP;UNITY_6000_0_OR_NEWER" "SDBRIDGE_HDRP;UNITY_6000_0_OR_NEWER")
fi
# URP 17.3 (Unity 6.3) drops the Execute path unless URP_COMPATIBILITY_MODE is defined, and 6.4 drops that define:
# each recording-path combination the pass's #if lines select (tests/unity/test_urp_pass_paths.py) compiles
if grep -rqs "UNITY_6000_3_OR_NEWER" "$PKG/Runtime/Unity"; then
  u63="SDBRIDGE_URP;UNITY_6000_0_OR_NEWER;UNITY_6000_3_OR_NEWER"
  variants+=("$u63" "$u63;URP_COMPATIBILITY_MODE" "$u63;UNITY_6000_4_OR_NEWER;URP_COMPATIBILITY_MODE")
fi
for defines in "${variants[@]}"; do
  name="${defines:-none}"
  args=(-target:library -unsafe "${ENGINE_REFS[@]}" -out:"$OUT/runtime-${name//;/_}/StreamDiffusion.Bridge.dll")
  [[ -n "$defines" ]] && args+=(-define:"$defines")
  mkdir -p "$OUT/runtime-${name//;/_}"
  check "Runtime/Unity [$name]" "${args[@]}" "${RUNTIME[@]}"
done
mkdir -p "$OUT/runtime-editor"
check "Runtime/Unity [UNITY_EDITOR]" -target:library -unsafe -define:UNITY_EDITOR "${ENGINE_REFS[@]}" \
  -r:"$OUT/UnityEditor.dll" -out:"$OUT/runtime-editor/StreamDiffusion.Bridge.dll" "${RUNTIME[@]}"

RUNTIME_DLL="$OUT/runtime-editor/StreamDiffusion.Bridge.dll"
mapfile -t EDITOR < <(sources "$PKG/Editor")
check "Editor [UNITY_EDITOR]" -target:library -unsafe -define:UNITY_EDITOR "${ENGINE_REFS[@]}" -r:"$OUT/UnityEditor.dll" \
  -r:"$RUNTIME_DLL" -out:"$OUT/StreamDiffusion.Bridge.Editor.dll" "${EDITOR[@]}"

mapfile -t SAMPLES < <(sources "$PKG/Samples~")
check "Samples~ [ENABLE_LEGACY_INPUT_MANAGER]" -target:library -define:ENABLE_LEGACY_INPUT_MANAGER "${ENGINE_REFS[@]}" \
  -r:"$OUT/runtime-none/StreamDiffusion.Bridge.dll" -out:"$OUT/Samples.legacy.dll" "${SAMPLES[@]}"
check "Samples~ [ENABLE_INPUT_SYSTEM]" -target:library -define:ENABLE_INPUT_SYSTEM "${ENGINE_REFS[@]}" \
  -r:"$OUT/Unity.InputSystem.dll" -r:"$OUT/runtime-none/StreamDiffusion.Bridge.dll" -out:"$OUT/Samples.input.dll" \
  "${SAMPLES[@]}"

NUNIT_DLL="$(ls /usr/lib/cli/nunit.framework-2.6*/nunit.framework.dll 2>/dev/null | head -n1 || true)"
mapfile -t UNITY_TESTS < <(sources "$PKG/Tests/Unity")
if [[ -n "$NUNIT_DLL" ]] && (( ${#UNITY_TESTS[@]} )); then
  check "Tests/Unity [UNITY_EDITOR, NUnit 2.6 API]" -target:library -define:UNITY_EDITOR "${ENGINE_REFS[@]}" \
    -r:"$OUT/FlatBuffers.dll" -r:"$OUT/UnityEditor.dll" -r:"$RUNTIME_DLL" -r:"$NUNIT_DLL" -out:"$OUT/StreamDiffusion.Bridge.Tests.dll" \
    "${UNITY_TESTS[@]}"
fi

echo "$passed passed, $failed failed"
(( failed == 0 ))
