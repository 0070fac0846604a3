"""Errors of an engine profile (engines/profiles/*.toml) name the file and the line of the key, as the server
config's do (sdbridge.toml_lines): a typo in a key was reported without its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdbridge.acceleration.profiles import load_profile
from sdbridge.errors import ConfigError

_GOOD = '[model]\nname = "tiny"\n\n[shapes]\nwidth = [64, 64, 64]\nheight = [64, 64, 64]\n'


@pytest.mark.parametrize(("text", "expected"), [
    ('[model]\nname = "tiny"\n\n[shapes]\nwidht = [64, 64, 64]\n', "p.toml:5: unknown key 'widht' in [shapes] "
                                                                   "(did you mean 'width'?)"),
    ('[model]\nname = "tiny"\n# a comment\n[shape]\nwidth = [64, 64, 64]\n', "p.toml:4: unknown section [shape] "
                                                                              "(did you mean 'shapes'?)"),
    ('[model]\nname = "tiny"\n[engine]\n\nbackend = "eager"\n', "p.toml:5: [engine] backend='eager' builds no"),
    ('[model]\nname = "tiny"\n[shapes]\nheight = [64, 64, 64]\nwidth = 512\n', "p.toml:5: [shapes] width=512 must"),
    ('[model]\nname = "tiny"\n[shapes]\nwidth = [64, 64, 64]\nheight = [64, 64, 64]\ncfg_modes = ["half"]\n',
     "p.toml:6: [shapes] cfg_modes=['half']"),
    ('[model]\nname = "tiny"\n[shapes]\nwidth = [512, 256, 768]\nheight = [64, 64, 64]\n',
     "p.toml:3: [shapes] shape range width=(512, 256, 768)"),
    ('\n[model]\nvae = "taesd"\n', "p.toml:2: [model] name is required"),
    ('model = 3\n', "p.toml:1: model must be a [model] table"),
])
def test_profile_errors_name_the_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(_GOOD)
    assert load_profile(path).model == "tiny"  # the same file without the mistake loads
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    assert str(caught.value).startswith(f"{path.parent}/{expected}"), str(caught.value)
