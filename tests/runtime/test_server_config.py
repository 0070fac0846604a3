"""Strict TOML server config loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdbridge.config import Dtype, ServerConfig, load_config, parse_config, with_overrides
from sdbridge.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_example_config_equals_defaults() -> None:
    assert load_config(REPO / "configs" / "server.toml") == ServerConfig()


def test_values_are_typed() -> None:
    cfg = parse_config(
        '[model]\ndtype = "float16"\n[pipeline]\nt_index_list = [10, 20, 30]\nguidance_scale = 2\n'
    )
    assert cfg.model.dtype is Dtype.FLOAT16
    assert cfg.pipeline.t_index_list == (10, 20, 30)
    assert cfg.pipeline.guidance_scale == 2.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[model]\nname = "x"\nwidht = 64\n', r"<string>:3: \[model\] unknown key 'widht'"),
        ("[modle]\n", r"<string>:1: unknown key 'modle'"),
        ('[model]\ndtype = "f8"\n', r"<string>:2: \[model\] dtype='f8' is not one of"),
        ('[limits]\nmax_sessions = "8"\n', "max_sessions='8' must be an integer"),
        ("[limits]\nmax_sessions = true\n", "max_sessions=True must be an integer"),
        ("[limits]\nmax_sessions = 0\n", "limits.max_sessions=0 must be >= 1"),
        ("[model]\nwidth = 63\n", "model.width=63 must be a positive multiple of 8"),
        ("[limits]\nmax_message_bytes = 2048\n", "cannot hold a max_width x max_height"),
        ("[session]\nheartbeat_timeout_s = 0.5\n", "heartbeat_interval_ms=1000 must be shorter"),
        ("model = 3\n", "model must be a \\[model\\] table"),
        ("[model\n", "invalid TOML"),
    ],
)
def test_errors_name_key_line_and_limit(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_config(text)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.toml")


def test_overrides_keep_other_values() -> None:
    cfg = with_overrides(ServerConfig(), model={"name": "identity"}, top={"bind": "tcp://127.0.0.1:1"})
    assert cfg.model.name == "identity" and cfg.bind == "tcp://127.0.0.1:1"
    assert cfg.model.width == 64


def test_a_vae_name_too_long_for_a_path_is_refused_by_name() -> None:
    """(found by mutating configs/server.toml: a 5000-character vae raised OSError "File name too long" from the
    folder check instead of the ConfigError that names the key)"""
    with pytest.raises(ConfigError, match=r"vae='a{5000}' is not taesd, full, an existing folder or a Hub id"):
        parse_config('[model]\nvae = "' + "a" * 5000 + '"\n', "long.toml")
