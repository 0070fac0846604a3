"""Paths named by the commands' flags: one that cannot be written, or the wrong kind of path, is refused at once
(exit 2, an error naming the option and the path), before a model loads or a benchmark runs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sdbridge import cli
from sdbridge.commands import check


def _errors(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    return path


@pytest.mark.parametrize("argv", [
    ["demo", "--no-preview", "--frames", "1", "--out"],  # before: NotADirectoryError traceback
    ["keys", "generate", "--name", "x", "--dir"],  # before: NotADirectoryError traceback
    ["replay", "/no/such/recording.sdrec", "--out"],  # before: only after the model loaded and the replay ran
    ["bench", "pipeline", "--model", "no-such-model", "--out"],  # before: only after the whole benchmark ran
], ids=["demo", "keys", "replay", "bench-pipeline"])
def test_an_unwritable_output_path_is_refused_naming_the_option(argv: list[str], a_file: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    option = argv[-1]
    target = a_file / "sub" / ("report.md" if argv[0] == "bench" else "")
    assert cli.main([*argv, str(target)]) == 2
    message = _errors(caplog)
    assert f"{option} '{a_file / 'sub'}" in message and "cannot create that folder" in message, message


def test_replaying_the_record_folder_names_the_recordings_in_it(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "session-1-20260101T000000Z.sdrec").mkdir()
    (tmp_path / "session-2-20260101T000001Z.sdrec").mkdir()
    assert cli.main(["replay", str(tmp_path)]) == 2
    message = _errors(caplog)
    assert "holding 2 recording(s)" in message and "session-1-20260101T000000Z.sdrec" in message, message
    assert f"sdbridge replay {tmp_path / 'session-2-20260101T000001Z.sdrec'}" in message


def test_an_os_error_is_an_error_line_not_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    def fails(args: object) -> int:
        raise FileNotFoundError(2, "No such file or directory", "/some/path")

    monkeypatch.setattr(check, "run", fails)
    assert cli.main(["check"]) == 2
    message = _errors(caplog)
    assert "/some/path" in message and "sdbridge -v" in message, message
    assert not any(r.exc_info for r in caplog.records)


def test_writable_folder_checks_without_creating(tmp_path: Path) -> None:
    """replay checks --out before the model loads but makes it only once the recording was accepted."""
    from sdbridge.commands.output_paths import writable_folder
    from sdbridge.errors import ConfigError

    nested = tmp_path / "a" / "b"
    assert writable_folder(nested, "--out") == nested and not (tmp_path / "a").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"--out '.*file' is a file; pass a folder to --out"):
        writable_folder(tmp_path / "file", "--out")
    with pytest.raises(ConfigError, match=r"cannot create that folder .* is not a writable folder"):
        writable_folder(tmp_path / "file" / "sub", "--out")
