"""A rules file that sets ip_adapter_scale, served without an IP-Adapter, is loaded with a warning naming where it
sets it and the fix (it was taken silently and changed nothing); with an adapter, no warning."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sdbridge.events.host import RulesHost

RULES = """[state]
mood = { type = "string", default = "calm" }
[prompt]
template = "a {mood} lake"
[params]
ip_adapter_scale = 0.7
[[rules]]
name = "fade"
event = "fade"
params = { ip_adapter_scale = 0.2 }
[[rules]]
event = "scare"
set = { mood = "eerie" }
"""


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "sdbridge.events.host"]


@pytest.mark.parametrize("styles", [False, True])
def test_ip_adapter_scale_without_an_adapter_is_warned_about(styles: bool, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(RULES, encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="sdbridge.events.host"):
        RulesHost(path, styles=styles)
    warnings = _warnings(caplog)
    if styles:
        assert warnings == []
        return
    (line,) = warnings
    assert "ip_adapter_scale is set by [params], rule 'fade' (line 7)" in line, line
    assert "no IP-Adapter" in line and "--ip-adapter SOURCE" in line
