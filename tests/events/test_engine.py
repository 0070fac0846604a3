"""The pure rules engine: matching and conditions, templates, priorities and layers, timed effects."""

from __future__ import annotations

import pytest

from sdbridge.events.engine import RuleEngine
from sdbridge.events.rules import parse_rules

DEFAULTS = {"guidance_scale": 1.0, "delta": 1.0, "seed": 2, "t_index_list": (32, 45)}

RULES = """
[state]
style = { type = "string", default = "watercolor" }
biome = { type = "string", default = "forest" }
hp = { type = "int", default = 100, min = 0, max = 100 }
armed = { type = "bool", default = false }

[prompt]
template = "{style}, {biome}"
transition = { seconds = 2.0, easing = "ease_in_out", interpolation = "slerp" }

[params]
guidance_scale = 1.2

[[rules]]
name = "enter"
event = "enter"
when = { biome = { in = ["desert", "cave"] } }
copy = { biome = "biome" }

[[rules]]
name = "hurt"
event = "hit"
when = { damage = { gt = 0 } }
add = { hp = -30 }

[[rules]]
name = "low prompt"
event = "hit"
priority = 1
when_state = { hp = { le = 40 } }
prompt = "{style}, {biome}, low health"
transition = { frames = 5, easing = "ease_in" }

[[rules]]
name = "high prompt"
event = "hit"
priority = 9
when = { critical = true }
prompt = "{style}, {biome}, critical hit"
params = { delta = 0.5 }

[[rules]]
name = "flash"
event = "flash"
priority = 5
layer = "fx"
prompt = "{biome} flash"
params = { delta = 0.3, seed = 9 }
duration = { seconds = 1.0 }
revert = { seconds = 0.5, easing = "ease_out" }

[[rules]]
name = "boss"
event = "boss"
priority = 10
layer = "boss"
prompt = "{biome} boss fight"
params = { delta = 0.8 }
duration = { frames = 3 }

[[rules]]
name = "any"
event = "*"
when = { tag = { exists = true } }
set = { armed = true }
"""


@pytest.fixture
def engine() -> RuleEngine:
    e = RuleEngine(parse_rules(RULES), DEFAULTS)
    start = e.start()
    assert start.changes[0].values == {"prompt": "watercolor, forest", "negative_prompt": "",
                                       "guidance_scale": 1.2}
    return e


def test_matching_by_name_and_payload_conditions(engine: RuleEngine) -> None:
    assert engine.on_event("enter", {"biome": "swamp"}, 0.0, 0).changes == []  # not in the list
    assert engine.on_event("leave", {"biome": "desert"}, 0.0, 0).matched == []  # other event
    out = engine.on_event("enter", {"biome": "desert"}, 0.0, 0)
    assert out.matched == ["enter"] and engine.state["biome"] == "desert"
    change = out.changes[0]  # no prompt rule: the default transition of [prompt] re-renders the template
    assert change.values == {"prompt": "watercolor, desert", "prompt_interpolation": "slerp"}
    assert (change.seconds, change.frames, change.easing) == (2.0, 0, "ease_in_out")
    # payload conditions are typed: a bool is not a number, a missing key fails, exists checks presence
    assert engine.on_event("hit", {"damage": True}, 0.0, 0).matched == []
    assert engine.on_event("hit", {}, 0.0, 0).matched == []
    assert engine.on_event("whatever", {"tag": "x"}, 0.0, 0).matched == ["any"] and engine.state["armed"] is True


def test_templates_render_state_and_state_messages_rerender(engine: RuleEngine) -> None:
    out = engine.on_state({"style": "ink sketch", "unknown": 1})
    assert out.ignored == ["unknown"] and out.changes[0].values["prompt"] == "ink sketch, forest"
    bad = engine.on_state({"hp": 101, "biome": 3})
    assert len(bad.problems) == 2 and "above its max=100" in bad.problems[0] and engine.state["hp"] == 100
    assert bad.changes == []  # nothing changed
    assert engine.on_state({"style": "ink sketch"}).changes == []  # same text: no update
    reset = engine.on_state({}, replace_all=True)
    assert reset.changes[0].values["prompt"] == "watercolor, forest"


def test_conditions_on_state_see_the_state_before_the_event(engine: RuleEngine) -> None:
    engine.on_event("hit", {"damage": 5}, 0.0, 0)  # hp 70
    out = engine.on_event("hit", {"damage": 5}, 0.0, 0)  # hp 40 after, but 70 when matched
    assert out.matched == ["hurt"]
    out = engine.on_event("hit", {"damage": 5}, 0.0, 0)  # matched at hp 40
    assert out.matched == ["hurt", "low prompt"] and engine.state["hp"] == 10
    change = out.changes[0]
    assert change.values == {"prompt": "watercolor, forest, low health"}
    assert (change.frames, change.easing) == (5, "ease_in")
    assert engine.on_event("hit", {"damage": 5}, 0.0, 0).changes == [] and engine.state["hp"] == 0  # clamped


def test_priority_decides_between_rules_of_one_event(engine: RuleEngine) -> None:
    engine.state["hp"] = 20
    out = engine.on_event("hit", {"damage": 1, "critical": True}, 0.0, 0)
    assert out.matched == ["hurt", "low prompt", "high prompt"]  # ascending priority
    change = out.changes[0]
    assert change.values == {"prompt": "watercolor, forest, critical hit", "delta": 0.5}
    assert (change.frames, change.seconds) == (0, 0.0)  # the winner's transition (none): at once


def test_temporary_effect_reverts_after_seconds_with_its_revert_blend(engine: RuleEngine) -> None:
    out = engine.on_event("flash", {}, 10.0, 0)
    assert out.changes[0].values == {"prompt": "forest flash", "delta": 0.3, "seed": 9}
    assert engine.active_layers == {"fx": "flash"}
    assert engine.tick(10.99, 5).changes == []
    ended = engine.tick(11.0, 6).changes[0]
    assert ended.values == {"prompt": "watercolor, forest", "delta": 1.0, "seed": 2}  # back to the defaults
    assert (ended.seconds, ended.easing) == (0.5, "ease_out")
    assert engine.active_layers == {}


def test_layers_stack_by_priority_and_the_rest_shows_when_one_ends(engine: RuleEngine) -> None:
    engine.on_event("flash", {}, 0.0, 0)  # priority 5, 1 s
    out = engine.on_event("boss", {}, 0.1, 10)  # priority 10, frames 10..12
    assert out.changes[0].values == {"prompt": "forest boss fight", "delta": 0.8}  # seed 9 of flash stays
    assert engine.current["seed"] == 9
    # the boss layer ends first (frame 13): the flash (still active) shows again
    assert engine.tick(0.2, 12).changes == []
    assert engine.tick(0.2, 13).changes[0].values == {"prompt": "forest flash", "delta": 0.3}
    # a new flash replaces the old one on its layer (and restarts its time)
    engine.on_event("flash", {}, 0.5, 14)
    assert engine.tick(1.2, 20).changes == []
    assert engine.tick(1.5, 21).changes[0].values["prompt"] == "watercolor, forest"


def test_lower_priority_effect_does_not_override_a_higher_one(engine: RuleEngine) -> None:
    engine.on_event("boss", {}, 0.0, 0)
    out = engine.on_event("flash", {}, 0.0, 0)
    assert out.changes[0].values == {"seed": 9}  # prompt and delta stay the boss's
    assert engine.current["prompt"] == "forest boss fight" and engine.current["delta"] == 0.8


def test_state_change_during_an_effect_rerenders_the_effect_prompt(engine: RuleEngine) -> None:
    engine.on_event("flash", {}, 0.0, 0)
    assert engine.on_state({"biome": "cave"}).changes[0].values["prompt"] == "cave flash"
    assert engine.tick(5.0, 1).changes[0].values["prompt"] == "watercolor, cave"


def test_copy_with_a_wrong_type_is_reported_and_nothing_of_the_rule_applies() -> None:
    rules = parse_rules('[state]\nn = { type = "int", default = 1 }\nm = { type = "int", default = 1 }\n'
                        '[prompt]\ntemplate = "{n} {m}"\n[[rules]]\nevent = "e"\ncopy = { n = "v" }\nset = { m = 5 }\n')
    engine = RuleEngine(rules)
    engine.start()
    out = engine.on_event("e", {"v": "many"}, 0.0, 0)
    assert out.matched == [] and "is an int" in out.problems[0] and "(line 6)" in out.problems[0]
    assert engine.state == {"n": 1, "m": 1} and out.changes == []
    assert "has no key 'v'" in engine.on_event("e", {}, 0.0, 0).problems[0]


def test_reload_keeps_state_ends_effects_and_moves_to_the_new_rules(engine: RuleEngine) -> None:
    engine.on_event("enter", {"biome": "cave"}, 0.0, 0)
    engine.on_event("flash", {}, 0.0, 0)
    new_rules = parse_rules(RULES.replace('template = "{style}, {biome}"', 'template = "{biome} by night"')
                            .replace("guidance_scale = 1.2", "guidance_scale = 1.5"))
    fresh, out = engine.reloaded(new_rules)
    assert fresh.state["biome"] == "cave" and fresh.active_layers == {}
    values = out.changes[0].values
    assert values["prompt"] == "cave by night" and values["guidance_scale"] == 1.5
    assert values["delta"] == 1.0 and values["seed"] == 2  # the flash's params are gone


def test_a_rule_sets_live_lora_weights_for_a_while_and_they_revert() -> None:
    """`params = { lora_weights = [[adapter, weight], ...] }` (the registry's range) as a temporary effect: the
    weights go out with the event and back to the starting ones (the empty list) when the effect ends."""
    rules = parse_rules('[prompt]\ntemplate = "a city"\n[[rules]]\nname = "glow"\nevent = "hit"\n'
                        'params = { lora_weights = [["style", 1.5]] }\nduration = { frames = 2 }\n')
    engine = RuleEngine(rules, {**DEFAULTS, "lora_weights": ()})
    engine.start()
    assert engine.on_event("hit", {}, 0.0, 0).changes[0].values == {"lora_weights": (("style", 1.5),)}
    assert engine.tick(0.0, 1).changes == []
    assert [c.values for c in engine.tick(0.0, 2).changes] == [{"lora_weights": ()}]


def test_a_live_lora_weight_outside_the_range_is_refused_naming_the_line() -> None:
    from sdbridge.events.rules import RulesError

    with pytest.raises(RulesError, match=r"x\.toml:4: rules\[0\]\.params\.lora_weights: lora_weights\[0\] "
                                         r"style=3\.0 must be a number in \[-2, 2\]"):
        parse_rules('[prompt]\ntemplate = "a city"\n[[rules]]\nparams = { lora_weights = [["style", 3.0]] }\n'
                    'event = "hit"\n', "x.toml")
