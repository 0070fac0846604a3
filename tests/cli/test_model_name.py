"""A --model (or [model] name) that is no preset, no existing path and no Hub id 'owner/name' is refused before the
model loads, naming the flag, the config key and the fix (the loader's "unknown model '/data/sd-turbo': not a
preset ..." named neither and came after the 'loading model' line)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sdbridge import cli
from tests.cli.conftest import free_port


def _errors(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


@pytest.mark.parametrize("name", ["/nope/sd-turbo", "sd-turob", "a/b/c"])
def test_a_name_that_names_nothing_is_refused_before_the_load(name: str, loads: list[str],
                                                              caplog: pytest.LogCaptureFixture) -> None:
    assert cli.main(["serve", "--model", name, "--bind", f"tcp://127.0.0.1:{free_port()}"]) == 2
    message = _errors(caplog)
    assert loads == [], message
    assert f"--model ([model] name) {name!r} is not a preset (identity, tiny" in message, message
    assert "an existing folder or a Hub id 'owner/name'" in message and "--model tiny" in message, message


@pytest.mark.parametrize("name", ["tiny", "identity", "stabilityai/sd-turbo", "EXISTING"])
def test_presets_hub_ids_and_existing_paths_reach_the_load(name: str, tmp_path: Path, loads: list[str]) -> None:
    name = str(tmp_path) if name == "EXISTING" else name
    assert cli.main(["serve", "--model", name, "--bind", f"tcp://127.0.0.1:{free_port()}"]) == 2
    assert loads == ["load"]


def test_the_demo_refuses_it_too(loads: list[str], caplog: pytest.LogCaptureFixture) -> None:
    assert cli.main(["demo", "--model", "sd-turob", "--frames", "1", "--no-preview"]) == 2
    assert loads == [] and "--model ([model] name) 'sd-turob' is not a preset" in _errors(caplog)
