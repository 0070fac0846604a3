"""The Unity and Unreal cores name their event and state calls after the schema's GameEvent and State."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_schema_tables_and_engine_calls_share_names() -> None:
    schema = (ROOT / "schemas" / "bridge.fbs").read_text(encoding="utf-8")
    assert re.search(r"^table GameEvent\b", schema, re.M) and re.search(r"^table State\b", schema, re.M)
    csharp = (ROOT / "unity_package" / "Runtime" / "Core" / "Client" / "BridgeClient.cs").read_text(encoding="utf-8")
    assert re.search(r"public void SendGameEvent\(GameEventMessage ", csharp)
    assert re.search(r"public void SetState\(StateMessage ", csharp)
    cpp = (ROOT / "unreal_plugin" / "StreamDiffusionBridge" / "core" / "include" / "sdbridge" / "client.h").read_text(
        encoding="utf-8")
    assert "Status SendGameEvent(const GameEvent& event);" in cpp and "Status SetState(const State& state);" in cpp
    component = (ROOT / "unreal_plugin" / "StreamDiffusionBridge" / "Source" / "StreamDiffusionBridge" / "Public"
                 / "SDBridgeComponent.h").read_text(encoding="utf-8")
    assert re.search(r"BlueprintCallable.*\n\s*bool SendGameEvent\(", component)
    assert re.search(r"BlueprintCallable.*\n\s*bool SetState\(", component)


def test_engine_readmes_show_gameplay_code_calling_them() -> None:
    unity = (ROOT / "unity_package" / "README.md").read_text(encoding="utf-8")
    unreal = (ROOT / "unreal_plugin" / "StreamDiffusionBridge" / "README.md").read_text(encoding="utf-8")
    for text in (unity, unreal):
        assert "## Game events and state from gameplay code" in text
    assert ": MonoBehaviour" in unity and "Client.SendGameEvent(" in unity and "Client.SetState(" in unity
    assert "UCLASS()" in unreal and "Bridge->SendGameEvent(" in unreal and "Bridge->SetState(" in unreal
    # the events the examples send are events of the example rules file
    rules = (ROOT / "configs" / "rules" / "fantasy_rpg.toml").read_text(encoding="utf-8")
    for event in ("enter_biome", "time_changed", "player_hit", "combat_start", "combat_end"):
        assert f'event = "{event}"' in rules
        assert f'"{event}"' in unity and event in unreal
