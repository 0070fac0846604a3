#!/usr/bin/env bash
# CI step: compile every pass and keyword variant of the Unity package's shaders
# (unity_package/Runtime/Shaders) with glslang's HLSL front end (Debian's glslang-tools). Catches HLSL syntax
# errors, unknown identifiers, type mismatches and wrong intrinsic arguments; it cannot catch ShaderLab errors,
# Unity's own preprocessing, or behaviour on a GPU (no Unity editor and no GPU run here).
# Prints "N passed, N failed" and exits non-zero on any failure. Run from the repository root.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
# scripts/test_all.sh installed glslang-tools before pytest; run alone, this installs it when missing.
bash "$ROOT/scripts/install_tools.sh" shaders
timeout 300 python3 "$ROOT/unity_package/Tests~/Tools/check_shaders.py"
