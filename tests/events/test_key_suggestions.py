"""A misspelt key in a rules file is refused with the key it most likely meant (a user who wrote `guidance = 1.4`
under a rule's `params` got nineteen allowed names to read through, and `durtion` the rule's dozen keys)."""

from __future__ import annotations

import pytest

from sdbridge.events.rules import RulesError, parse_rules

HEAD = """[state]
mood = { type = "string", default = "calm" }
[prompt]
template = "a {mood} lake"
"""


@pytest.mark.parametrize(("rule", "key", "meant"), [
    ('params = { guidance = 1.4 }', "guidance", "guidance_scale"),
    ('params = { latent_feedbak = 0.2 }', "latent_feedbak", "latent_feedback"),
    ('prompt = "x"\nduration = { seconds = 1 }\nlayr = "flash"', "layr", "layer"),
    ('prompt = "x"\ntransition = { second = 2 }', "second", "seconds"),
])
def test_a_misspelt_key_names_the_key_it_meant(rule: str, key: str, meant: str) -> None:
    with pytest.raises(RulesError) as error:
        parse_rules(HEAD + f'[[rules]]\nevent = "scare"\n{rule}\n', "rules.toml")
    assert f"unknown key {key!r} (did you mean {meant!r}?); allowed here:" in str(error.value)


def test_a_key_like_none_of_them_gets_no_guess() -> None:
    with pytest.raises(RulesError) as error:
        parse_rules(HEAD + '[[rules]]\nevent = "scare"\nparams = { zzzz = 1 }\n', "rules.toml")
    assert "unknown key 'zzzz'; allowed here: guidance_scale" in str(error.value)


@pytest.mark.parametrize(("body", "words"), [
    ('[prompt]\ntemplate = "a {mod} lake"\n', ["unknown variable {mod} (did you mean 'mood'?) in template"]),
    ('[prompt]\ntemplate = "a {mood} lake"\n[[rules]]\nevent = "scare"\nset = { moood = "eerie" }\n',
     ["unknown state variable 'moood' (did you mean 'mood'?)"]),
    ('[prompt]\ntemplate = "a {mood} lake"\n[[rules]]\nevent = "scare"\nwhen_state = { mode = "calm" }\nprompt = "x"\n',
     ["unknown state variable 'mode' (did you mean 'mood'?)"]),
])
def test_a_misspelt_variable_names_the_one_it_meant(body: str, words: list[str]) -> None:
    with pytest.raises(RulesError) as error:
        parse_rules('[state]\nmood = { type = "string", default = "calm" }\n' + body, "rules.toml")
    for word in words:
        assert word in str(error.value), str(error.value)
