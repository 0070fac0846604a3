"""`bench pipeline --out FILE` opens FILE before the benchmark runs: a file that cannot be written (here one in
/proc, where creating a file fails even for root, whose permission bits pass every check) is refused at once naming
--out and the path (it ran the whole benchmark, minutes, then failed writing the report); a writable path leaves no
empty file behind and an existing report is kept."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sdbridge.commands.output_paths import output_file
from sdbridge.errors import ConfigError


@pytest.mark.skipif(not sys.platform.startswith("linux") or not Path("/proc/self").exists(), reason="needs /proc")
def test_a_file_that_cannot_be_created_is_refused() -> None:
    with pytest.raises(ConfigError) as error:
        output_file("/proc/sdbridge-report.md", "--out")
    assert "--out '/proc/sdbridge-report.md': cannot write that file" in str(error.value)
    assert "pass a writable path to --out" in str(error.value)


def test_a_writable_path_leaves_nothing_behind_and_keeps_an_existing_file(tmp_path: Path) -> None:
    new = tmp_path / "out" / "report.md"
    assert output_file(new, "--out") == new and not new.exists() and new.parent.is_dir()
    old = tmp_path / "old.md"
    old.write_text("earlier report", encoding="utf-8")
    output_file(old, "--out")
    assert old.read_text(encoding="utf-8") == "earlier report"
