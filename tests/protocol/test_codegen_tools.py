"""schemas/codegen.py and schemas/golden/make_golden.py: --check passes here and names what differs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _flatc_208() -> bool:
    exe = shutil.which("flatc")
    if not exe:
        return False
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    return "flatc version 2.0.8" in out.stdout


pytestmark = pytest.mark.skipif(
    not _flatc_208(), reason="needs Debian's flatc 2.0.8 (apt-get install flatbuffers-compiler)"
)


def test_committed_generated_code_is_up_to_date(codegen: ModuleType) -> None:
    assert codegen.check(codegen.find_flatc(None)) == []


def test_check_names_an_edited_a_missing_and_an_extra_file(codegen: ModuleType, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for target in codegen.TARGETS:
        shutil.copytree(ROOT / target.out_dir, tmp_path / target.out_dir)
    # an input besides the schema: the NuGet runtime version the C# guard names (unity_package/package.json)
    shutil.copy(ROOT / "unity_package" / "package.json", tmp_path / "unity_package" / "package.json")
    py, cs, cpp, _unreal = (tmp_path / t.out_dir for t in codegen.TARGETS)
    with (cpp / "bridge_generated.h").open("a", encoding="utf-8") as f:
        f.write("// hand edit\n")
    (cs / "bridge_generated.cs").unlink()
    (py / "extra.py").write_text("x = 1\n", encoding="utf-8")
    with (py / "bridge_schema.py").open("a", encoding="utf-8") as f:  # a mirror codegen writes itself
        f.write("PROTOCOL_MINOR = 99\n")
    (cs / "Whatever.cs.meta").write_text("guid: 0\n", encoding="utf-8")  # Unity metadata is ignored
    monkeypatch.setattr(codegen, "REPO", tmp_path)
    problems = codegen.check(codegen.find_flatc(None))
    joined = "\n".join(problems)
    assert len(problems) == 4, joined
    assert "differs: python_server/sdbridge/protocol/_generated/bridge_schema.py" in joined
    assert "differs: unreal_plugin/StreamDiffusionBridge/core/include/sdbridge/generated/bridge_generated.h" in joined
    assert "missing: unity_package/Runtime/Core/Generated/bridge_generated.cs" in joined
    assert "unexpected file: python_server/sdbridge/protocol/_generated/extra.py" in joined


def test_wrong_flatc_is_refused_with_the_fix(codegen: ModuleType, tmp_path: Path) -> None:
    fake = tmp_path / "flatc"
    fake.write_text("#!/bin/sh\necho 'flatc version 24.3.25'\n", encoding="utf-8")
    fake.chmod(0o755)
    with pytest.raises(codegen.CodegenError) as info:
        codegen.find_flatc(str(fake))
    assert "24.3.25" in str(info.value) and "2.0.8" in str(info.value) and "flatbuffers-compiler" in str(info.value)


def test_every_generated_file_has_the_do_not_edit_marker(codegen: ModuleType) -> None:
    for target in codegen.TARGETS:
        for name in target.files:
            head = (ROOT / target.out_dir / name).read_text(encoding="utf-8")[:400]
            assert any(marker in head for marker in codegen.MARKERS), f"{target.out_dir / name}"


def test_golden_files_are_up_to_date() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "schemas" / "golden" / "make_golden.py"), "--check"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
