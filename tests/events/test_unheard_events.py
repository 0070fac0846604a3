"""What the log says about a rules file and the events it does not listen for: a newcomer whose game sends
"enter_bioem" while the rules say "enter_biome" used to see nothing at all, at start or when the event came."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sdbridge.events import host as host_module
from sdbridge.events.host import RulesHost

RULES = """[state]
biome = { type = "string", default = "forest" }
[prompt]
template = "a {biome}"
[[rules]]
event = "enter_biome"
copy = { biome = "biome" }
[[rules]]
event = "time_changed"
set = { biome = "night" }
"""


def _host(tmp_path: Path, text: str = RULES) -> RulesHost:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return RulesHost(path, poll_interval=0.5)


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "sdbridge.events.host"]


def test_loading_logs_the_file_its_rules_and_their_events(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="sdbridge.events.host"):
        _host(tmp_path)
    (line,) = _lines(caplog)
    assert "rules.toml: 2 rules on events enter_biome, time_changed" in line and "0.5 s" in line


def test_an_event_no_rule_listens_for_is_logged_once_with_a_suggestion(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    host = _host(tmp_path)
    host.open(1)
    with caplog.at_level(logging.INFO, logger="sdbridge.events.host"):
        caplog.clear()
        host.event(1, "enter_biome", {"biome": "desert"}, 0.0, 0)
        assert _lines(caplog) == []
        host.event(1, "enter_bioem", {"biome": "swamp"}, 0.0, 1)
        host.event(1, "enter_bioem", {"biome": "swamp"}, 0.0, 2)
    (line,) = _lines(caplog)
    assert "'enter_bioem'" in line and "session 1" in line and "runs no rule" in line
    assert "enter_biome, time_changed" in line and "did you mean 'enter_biome'?" in line


def test_a_wildcard_rule_hears_every_event(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    host = _host(tmp_path, RULES + '[[rules]]\nevent = "*"\nset = { biome = "any" }\n')
    host.open(1)
    with caplog.at_level(logging.INFO, logger="sdbridge.events.host"):
        caplog.clear()
        host.event(1, "anything", {}, 0.0, 0)
    assert _lines(caplog) == []


def test_unknown_names_are_logged_at_most_a_bounded_number_of_times(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host_module, "MAX_UNHEARD_NAMES", 3)
    host = _host(tmp_path)
    host.open(1)
    with caplog.at_level(logging.INFO, logger="sdbridge.events.host"):
        caplog.clear()
        for i in range(10):
            host.event(1, f"noise{i}", {}, 0.0, i)
    lines = _lines(caplog)
    assert len(lines) == 4 and "further unknown names are not logged" in lines[-1]


def test_an_undeclared_state_key_is_logged_once_with_a_suggestion(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    host = _host(tmp_path)
    host.open(1)
    with caplog.at_level(logging.INFO, logger="sdbridge.events.host"):
        caplog.clear()
        host.state(1, {"biome": "desert"})
        assert _lines(caplog) == []
        host.state(1, {"bioem": "swamp"})
        host.state(1, {"bioem": "castle"})
    (line,) = _lines(caplog)
    assert "State key 'bioem' (session 1)" in line and "no rule or template reads it" in line
    assert "its variables: biome" in line and "did you mean 'biome'?" in line
