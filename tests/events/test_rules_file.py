"""Loading a rules file: the examples load; every kind of mistake names its line and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdbridge.events.rules import RulesError, load_rules, parse_rules

ROOT = Path(__file__).resolve().parents[2]

BASE = """\
version = 1

[state]
biome = { type = "string", default = "forest", choices = ["forest", "desert"] }
health = { type = "float", default = 1.0, min = 0.0, max = 1.0 }
level = { type = "int", default = 1 }
night = { type = "bool" }

[prompt]
template = "a {biome}, level {level}"

[[rules]]
name = "first"
event = "enter"
copy = { biome = "biome" }

[[rules]]
name = "second"
event = "hit"
when = { damage = { ge = 10 } }
prompt = "a {biome} in red"
duration = { frames = 3 }
"""


@pytest.mark.parametrize("name", ["fantasy_rpg.toml", "survival_horror.toml"])
def test_example_files_load(name: str) -> None:
    rules = load_rules(ROOT / "configs" / "rules" / name)
    assert len(rules.rules) >= 5
    assert rules.prompt.variables  # the template uses state variables
    assert any(r.temporary for r in rules.rules) and any(r.transition for r in rules.rules)


def test_the_base_file_parses_with_types_and_defaults() -> None:
    rules = parse_rules(BASE, "base.toml")
    assert rules.defaults() == {"biome": "forest", "health": 1.0, "level": 1, "night": False}
    assert rules.prompt.variables == ("biome", "level")
    assert [r.line for r in rules.rules] == [12, 17]
    assert rules.rules[1].when[0].op == "ge" and rules.rules[1].duration.frames == 3


def _error(text: str) -> str:
    with pytest.raises(RulesError) as info:
        parse_rules(text, "bad.toml")
    return str(info.value)


@pytest.mark.parametrize(("old", "new", "where", "words"), [
    # unknown key, in a rule, at its own line
    ('name = "second"', 'name = "second"\ndurtion = 3', "bad.toml:19: rules[1].durtion", "unknown key 'durtion'"),
    # unknown variable in a template
    ('template = "a {biome}, level {level}"', 'template = "a {biome} at {time}"', "bad.toml:10: prompt.template",
     "unknown variable {time}"),
    ('prompt = "a {biome} in red"', 'prompt = "a {bioem} in red"', "bad.toml:21: rules[1].prompt",
     "unknown variable {bioem}"),
    # values out of range
    ('duration = { frames = 3 }', 'duration = { frames = 3 }\nparams = { delta = 3.0 }',
     "bad.toml:23: rules[1].params.delta", "must be a number in [0, 2]"),
    ('duration = { frames = 3 }', 'duration = { seconds = -1 }', "bad.toml:22: rules[1].duration.seconds",
     "must be a number in (0, 3600]"),
    ('duration = { frames = 3 }', 'duration = { frames = 3 }\nparams = { t_index_list = [45, 32] }',
     "bad.toml:23: rules[1].params.t_index_list", "strictly ascending"),
    ('default = 1.0, min', 'default = 2.0, min', "bad.toml:5: state.health.default", "above its max=1"),
    # types, names, choices
    ('copy = { biome = "biome" }', 'set = { biome = "ocean" }', "bad.toml:15: rules[0].set.biome",
     "is not one of ['forest', 'desert']"),
    ('copy = { biome = "biome" }', 'set = { mana = 3 }', "bad.toml:15: rules[0].set.mana",
     "unknown state variable 'mana'"),
    ('copy = { biome = "biome" }', 'add = { biome = 1 }', "bad.toml:15: rules[0].add.biome",
     "needs a numeric variable"),
    ('when = { damage = { ge = 10 } }', 'when = { damage = { ge = "high" } }', "bad.toml:20: rules[1].when.damage.ge",
     "not a number"),
    ('when = { damage = { ge = 10 } }', 'when = { damage = { around = 10 } }',
     "bad.toml:20: rules[1].when.damage.around", "unknown key 'around'"),
    ('duration = { frames = 3 }', 'transition = { seconds = 1, easing = "bouncy" }',
     "bad.toml:22: rules[1].transition.easing", "must be one of ['linear'"),
    ('night = { type = "bool" }', 'night = { type = "boolean" }', "bad.toml:7: state.night.type",
     "must be one of ['string', 'int', 'float', 'bool']"),
    ('version = 1', 'version = 2', "bad.toml:1: version", "not supported"),
    # values of the wrong shape (found by mutating the example files: these raised TypeError)
    ('duration = { frames = 3 }', 'transition = { seconds = 1, easing = ["linear"] }',
     "bad.toml:22: rules[1].transition.easing", "easing=['linear'] must be one of ['linear'"),
])
def test_mistakes_name_the_line_and_the_problem(old: str, new: str, where: str, words: str) -> None:
    assert old in BASE
    message = _error(BASE.replace(old, new, 1))
    assert message.startswith(where), message
    assert words in message, message


@pytest.mark.parametrize("value", ["3", "1.5", "false", '"forest"', "[1, 2]"])
def test_a_state_that_is_no_table_is_named(value: str) -> None:
    """(found by mutating the example files: a scalar or array `state` raised TypeError)"""
    message = _error(f'version = 1\nstate = {value}\n\n[prompt]\ntemplate = "a castle"\n')
    assert message.startswith("bad.toml:2: state: must be a table, got"), message


def test_rule_level_consistency_checks() -> None:
    assert "layer applies only to temporary effects" in _error(BASE.replace('copy = { biome = "biome" }',
                                                                            'copy = { biome = "biome" }\nlayer = "x"'))
    assert "needs event" in _error(BASE.replace('event = "enter"\n', ""))
    assert "has no action" in _error(BASE + '\n[[rules]]\nevent = "noop"\n')
    assert "sets none of them" in _error(BASE + '\n[[rules]]\nevent = "e"\nset = { level = 2 }\n'
                                                'duration = { seconds = 1 }\n')
    assert "invalid TOML" in _error("[prompt\n")
    assert "missing [prompt]" in _error("version = 1\n")


def test_missing_file_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="--rules"):
        load_rules(tmp_path / "nope.toml")
