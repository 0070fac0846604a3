"""`sdbridge serve` flags override the config file, which overrides the defaults."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from sdbridge.commands import serve
from sdbridge.config import Dtype
from sdbridge.errors import ConfigError


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_flags_override_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "server.toml"
    path.write_text('bind = "tcp://127.0.0.1:6000"\n[model]\nname = "small"\nwidth = 128\n[session]\ncredits = 3\n')
    cfg = serve.config_from_args(_args("--config", str(path), "--model", "identity", "--dtype", "float16",
                                       "--max-sessions", "2"))
    assert cfg.model.name == "identity" and cfg.model.dtype is Dtype.FLOAT16 and cfg.model.width == 128
    assert cfg.bind == "tcp://127.0.0.1:6000" and cfg.session.credits == 3 and cfg.limits.max_sessions == 2


def test_defaults_without_a_config() -> None:
    cfg = serve.config_from_args(_args("--bind", "tcp://127.0.0.1:7000"))
    assert cfg.model.name == "tiny" and cfg.bind == "tcp://127.0.0.1:7000"


def test_bad_flag_value_is_a_config_error() -> None:
    # (--credits 0 is refused earlier, by the flag's own type: tests/cli/test_arg_types.py)
    with pytest.raises(ConfigError, match=r"drain_grace_s=-5\.0"):
        serve.config_from_args(_args("--drain-grace", "-5"))
