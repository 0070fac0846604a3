"""`[accel] profile` is read before the model loads and named in its errors (a missing file was reported after the
model had loaded as "cannot read engine profile ..."); with the eager backend, which never reads it, a warning says
it is not read (it was ignored without a word)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sdbridge import cli

ROOT = Path(__file__).resolve().parents[2]


def _serve(tmp_path: Path, accel: str) -> list[str]:
    config = tmp_path / "server.toml"
    config.write_text(f'bind = "tcp://127.0.0.1:*"\n[model]\nname = "tiny"\n{accel}', encoding="utf-8")
    return ["serve", "--config", str(config)]


def test_a_missing_profile_is_refused_naming_the_key_before_the_model_loads(
        tmp_path: Path, loads: list[str], caplog: pytest.LogCaptureFixture) -> None:
    missing = tmp_path / "nope.toml"
    argv = _serve(tmp_path, f'[accel]\nbackend = "onnxruntime"\nprofile = "{missing}"\n')
    assert cli.main(argv) == 2
    message = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert loads == [], message
    assert f"accel.profile={str(missing)!r}: cannot read engine profile" in message, message


def test_a_good_profile_gets_to_the_model_load(tmp_path: Path, loads: list[str]) -> None:
    profile = ROOT / "engines" / "profiles" / "tiny-cpu-onnx.toml"
    argv = _serve(tmp_path, f'[accel]\nbackend = "onnxruntime"\nprofile = "{profile}"\n')
    assert cli.main(argv) == 2 and loads == ["load"]


def test_the_eager_backend_says_it_does_not_read_the_profile(tmp_path: Path, loads: list[str],
                                                            caplog: pytest.LogCaptureFixture) -> None:
    argv = _serve(tmp_path, f'[accel]\nprofile = "{tmp_path / "any.toml"}"\n')
    with caplog.at_level(logging.WARNING):
        assert cli.main(argv) == 2 and loads == ["load"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("is not read: the eager backend builds no engines" in w for w in warnings), warnings
