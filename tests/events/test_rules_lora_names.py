"""A rules file whose lora_weights names an adapter the server does not load as a live LoRA is refused when it loads
(at start: the server does not start; on a hot reload: the rules in force stay), naming where and the fix. Before,
only the change a rule made was refused, when it fired, and the file loaded as if it were right."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdbridge.events.host import RulesHost
from sdbridge.events.rules import RulesError

RULES = """[prompt]
template = "a lake"
[params]
lora_weights = [["pixel-art", 0.5]]
[[rules]]
name = "glow"
event = "glow"
params = { lora_weights = [["neon", 1.0]] }
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_rule_naming_an_adapter_the_server_does_not_load_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, RULES)
    with pytest.raises(RulesError, match=r"rule 'glow' \(line \d+\) sets lora_weights for 'neon', which this "
                                         r"server does not load as a live LoRA \(it loads: pixel-art\).*--lora"):
        RulesHost(path, live_loras=("pixel-art",))
    with pytest.raises(RulesError, match=r"\[params\] sets lora_weights for 'pixel-art'.*\(it loads: none\)"):
        RulesHost(path, live_loras=())


def test_names_the_server_loads_pass_and_unknown_servers_check_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path, RULES)
    assert len(RulesHost(path, live_loras=("pixel-art", "neon")).rules.rules) == 1
    assert len(RulesHost(path).rules.rules) == 1  # live_loras not known: the server refuses a change when it fires
