#!/usr/bin/env bash
# CI step (issue 15): compile every pass and keyword variant of the Unity package's shaders
# (unity_package/Runtime/Shaders) with glslang's HLSL front end (Debian's glslang-tools). Catches HLSL syntax
# errors, unknown identifiers, type mismatches and wrong intrinsic arguments; it cannot catch ShaderLab errors,
# Unity's own preprocessing, or behaviour on a GPU (no Unity editor and no GPU run here).
# Prints "N passed, N failed" and exits non-zero on any failure. Run from the repository root.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
if ! command -v glslangValidator >/dev/null 2>&1; then
  echo "unity_shaders: installing glslang-tools"
  apt-get update -o DPkg::Lock::Timeout=600 >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=600 glslang-tools >/dev/null
fi
timeout 300 python3 "$ROOT/unity_package/Tests~/Tools/check_shaders.py"
