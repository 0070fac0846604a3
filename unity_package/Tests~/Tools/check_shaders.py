"""Compile the HLSL of every pass and keyword variant of the package's shaders with glslang (no Unity here).

Unity is not available on these machines, so this is the closest check of Runtime/Shaders/**/*.shader that can run:
each pass's HLSLINCLUDE + HLSLPROGRAM is cut out of the ShaderLab file, every `#pragma multi_compile_local _ KW`
combination is expanded, and glslangValidator's HLSL front end (``-D``) compiles the vertex and fragment entry
points to SPIR-V. It catches HLSL syntax errors, unknown identifiers, type mismatches and wrong intrinsic
arguments. It cannot catch ShaderLab errors, Unity's own preprocessing (built-in macros and includes), what the
Direct3D/Metal compilers accept beyond glslang, or anything about behaviour on a GPU.

Usage (from the repository root): python3 unity_package/Tests~/Tools/check_shaders.py
Prints one line per variant and "N passed, N failed"; exits 1 on any failure or when glslangValidator is missing
(Debian/Ubuntu: apt-get install glslang-tools).
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SHADERS = Path(__file__).resolve().parents[2] / "Runtime" / "Shaders"
PASS = re.compile(r'Name\s+"(\w+)".*?HLSLPROGRAM(.*?)ENDHLSL', re.S)
INCLUDE = re.compile(r"HLSLINCLUDE(.*?)ENDHLSL", re.S)
KEYWORDS = re.compile(r"#pragma\s+multi_compile(?:_local)?\s+_\s+(\w+)")
ENTRY = re.compile(r"#pragma\s+(vertex|fragment)\s+(\w+)")
PRAGMA = re.compile(r"#pragma[^\n]*")


def variants(shader: Path) -> list[tuple[str, str, str, str, list[str]]]:
    """(pass name, stage, entry point, hlsl text, defines) for every pass, stage and keyword combination."""
    text = shader.read_text()
    include = INCLUDE.search(text)
    common = PRAGMA.sub("", include.group(1)) if include else ""
    out = []
    for name, body in PASS.findall(text):
        entries = dict(ENTRY.findall(body))
        keywords = KEYWORDS.findall(body)
        hlsl = common + PRAGMA.sub("", body)
        for on in itertools.product([False, True], repeat=len(keywords)):
            defines = [k for k, enabled in zip(keywords, on, strict=True) if enabled]
            for stage, glslang_stage in (("vertex", "vert"), ("fragment", "frag")):
                out.append((name, glslang_stage, entries[stage], hlsl, defines))
    return out


def main() -> int:
    """Compile every variant; print results and the pass/fail count."""
    tool = shutil.which("glslangValidator")
    if tool is None:
        print("glslangValidator not found: apt-get install glslang-tools")
        print("0 passed, 1 failed")
        return 1
    shaders = sorted(SHADERS.rglob("*.shader"))
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for shader in shaders:
            for name, stage, entry, hlsl, defines in variants(shader):
                path = Path(tmp) / f"{name}.hlsl"
                path.write_text(hlsl)
                cmd = [tool, "-D", "-V", "-S", stage, "-e", entry, "-o", str(Path(tmp) / "out.spv"), str(path)]
                cmd[1:1] = [f"-D{d}" for d in defines]
                result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
                label = f"{shader.name} {name} {stage} [{' '.join(defines) or 'no keywords'}]"
                if result.returncode == 0:
                    passed += 1
                    print(f"ok    {label}")
                else:
                    failed += 1
                    print(f"FAIL  {label}")
                    for line in (result.stdout + result.stderr).splitlines():
                        if "ERROR" in line:
                            print(f"      {line}")
    if not shaders:
        print(f"no .shader files under {SHADERS}")
        failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
