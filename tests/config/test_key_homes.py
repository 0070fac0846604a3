"""An unknown key of the server config says where its setting lives: a `[temporal]` table (the README's "Temporal
coherence" section) names [pipeline], and `ip_adapter_scale` / `controlnet_scale` / `lora_weights` under [pipeline]
name the @SCALE of their [model] entry (each used to get only the list of allowed keys)."""

from __future__ import annotations

import pytest

from sdbridge.config import parse_config
from sdbridge.errors import ConfigError


@pytest.mark.parametrize(("text", "words"), [
    ("[temporal]\nlatent_feedback = 0.2\nmotion_warp = 0.5\n",
     ["unknown key 'temporal'", "no [temporal] table: latent_feedback, motion_warp belong in [pipeline]"]),
    ("[pipeline]\nip_adapter_scale = 0.7\n",
     ["unknown key 'ip_adapter_scale'", "@SCALE of [model] ip_adapter", 'ip_adapter = "tiny@0.7"']),
    ('[pipeline]\ncontrolnet_scale = [["depth", 0.5]]\n',
     ["unknown key 'controlnet_scale'", "@SCALE of its [model] controlnet entry"]),
    ('[pipeline]\nlora_weights = [["style", 0.5]]\n', ["SCALE of its [model] lora entry", ":live"]),
])
def test_the_error_names_where_the_setting_lives(text: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(text)
    for word in words:
        assert word in str(error.value), str(error.value)


def test_misspellings_and_other_sections_keep_their_hints() -> None:
    with pytest.raises(ConfigError, match=r"did you mean 'latent_feedback'\?"):
        parse_config("[pipeline]\nlatent_feedbak = 0.2\n")
    with pytest.raises(ConfigError, match=r"it belongs in \[model\]"):
        parse_config('[pipeline]\ncontrolnet = ["depth=tiny"]\n')
    with pytest.raises(ConfigError) as error:
        parse_config("[mystery]\nzzz = 1\n")
    assert "belong in" not in str(error.value)
