"""What `sdbridge serve` logs at start: a ControlNet KIND the server cannot feed (a typo such as `depht`) is warned
about before the model loads, naming the KIND it resembles."""

from __future__ import annotations

import logging

import pytest

from sdbridge import cli
from tests.cli.conftest import free_port


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "ControlNet KIND" in
            r.getMessage()]


def test_a_misspelt_controlnet_kind_is_warned_before_the_load(loads: list[str],
                                                               caplog: pytest.LogCaptureFixture) -> None:
    bind = f"tcp://127.0.0.1:{free_port()}"
    with caplog.at_level(logging.INFO):
        assert cli.main(["serve", "--model", "tiny", "--bind", bind, "--controlnet", "depht=tiny"]) == 2
    assert loads == ["load"]
    (warning,) = _warnings(caplog)
    assert "'depht'" in warning and "did you mean 'depth'?" in warning and "Control plane named 'depht'" in warning


@pytest.mark.parametrize("kind", ["depth", "normal", "normals", "seg", "segmentation", "canny", "lineart_anime"])
def test_the_kinds_the_server_feeds_get_no_warning(kind: str, loads: list[str],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    bind = f"tcp://127.0.0.1:{free_port()}"
    with caplog.at_level(logging.INFO):
        assert cli.main(["serve", "--model", "tiny", "--bind", bind, "--controlnet", f"{kind}=tiny"]) == 2
    assert loads == ["load"] and _warnings(caplog) == []

