"""`sdbridge replay DIR/session-*.sdrec`, the README's form, with several sessions recorded: the shell passes every
file, and replay said only "unrecognized arguments: DIR/session-2-....sdrec"; now it says it replays one recording
and how to replay each. A FILE that does not exist names what to pass."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sdbridge import cli


def _errors(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


def test_several_recordings_are_refused_naming_how_to_replay_each(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    files = [str(tmp_path / f"session-{i}-20261207T000000Z.sdrec") for i in (1, 2)]
    assert cli.main(["replay", *files]) == 2
    message = _errors(caplog)
    assert "sdbridge replay takes one recording and got 2" in message, message
    assert f"e.g. sdbridge replay {files[0]}" in message and f'for f in {tmp_path}/session-*.sdrec' in message


def test_a_missing_recording_names_what_to_pass(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert cli.main(["replay", str(tmp_path / "nope.sdrec")]) == 2
    message = _errors(caplog)
    assert "cannot read recording" in message and "No such file or directory" in message, message
    assert "pass a session-*.sdrec that `sdbridge serve --record DIR` wrote into DIR" in message, message


def test_help_names_both_random_adapters(capsys: pytest.CaptureFixture[str]) -> None:
    """--ip-adapter's help named only tiny; a recording made with tiny-plus replays with tiny-plus."""
    with pytest.raises(SystemExit):
        cli.main(["replay", "--help"])
    assert "a Hub file, tiny or tiny-plus" in " ".join(capsys.readouterr().out.split())


def test_the_readme_names_one_recording_per_replay() -> None:
    """The Commands table showed `sdbridge replay DIR/session-*.sdrec`, which the shell expands to every session."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `sdbridge replay "))
    assert "*" not in row.split("|")[1] and "one file per run" in row, row
