"""A config value of the wrong type names the fix, not only the type: a number or true/false written in quotes
(`width = "512"`, `enabled = "true"`) says to drop the quotes, a single value where a list goes says to bracket it,
anything else shows the key's default as it is written (before: "[model] width='512' must be an integer")."""

from __future__ import annotations

import pytest

from sdbridge.config import parse_config
from sdbridge.errors import ConfigError


@pytest.mark.parametrize(("text", "message"), [
    ('[model]\nwidth = "512"\n', "x.toml:2: [model] width='512' must be an integer; write it without quotes: "
                                 "width = 512"),
    ('[pipeline]\nguidance_scale = "1.5"\n', "guidance_scale='1.5' must be a number; write it without quotes: "
                                             "guidance_scale = 1.5"),
    ('[preview]\nenabled = "true"\n', "enabled='true' must be a bool; write it without quotes: enabled = true"),
    ('[model]\nwidth = "big"\n', "width='big' must be an integer; e.g. width = 64 (the default)"),
    ('[preview]\nenabled = "yes"\n', "enabled='yes' must be a bool; e.g. enabled = false (true or false, no quotes)"),
    ("[model]\ndevice = 0\n", "device=0 must be a str; e.g. device = \"cpu\" (the default)"),
    ("bind = 5555\n", "x.toml:1: bind=5555 must be a str; e.g. bind = \"tcp://127.0.0.1:5555\" (the default)"),
    ("[pipeline]\nt_index_list = 32\n", "t_index_list=32 must be a list; write it in brackets, e.g. "
                                        "t_index_list = [32]"),
    ('[model]\nlora = "acme/a"\n', "lora='acme/a' must be a list; write it in brackets, e.g. lora = [\"acme/a\"]"),
])
def test_a_wrong_type_names_how_to_write_it(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "x.toml")
    assert message in str(caught.value), str(caught.value)


def test_the_fix_it_names_parses() -> None:
    for fixed in ('[model]\nwidth = 512\n', "[pipeline]\nt_index_list = [32]\n", "[preview]\nenabled = true\n"):
        parse_config(fixed, "x.toml")


def test_type_and_range_errors_share_one_location_format():
    """A wrong type said 'x.toml:2 [pipeline] ...' and a value out of range 'x.toml:3: pipeline....': one format now."""
    for text, line in (('[pipeline]\nmotion_warp = "strong"\n', 2), ("[pipeline]\n\nlatent_feedback = 2.0\n", 3)):
        with pytest.raises(ConfigError) as caught:
            parse_config(text, "x.toml")
        assert str(caught.value).startswith(f"x.toml:{line}: "), str(caught.value)
