"""`sdbridge demo` leaves the strength to the model unless asked: a turbo model runs its one step."""

from __future__ import annotations

import argparse
from pathlib import Path

from sdbridge import params
from sdbridge.commands.demo import add_arguments, server_toml
from sdbridge.commands.serve import resolve_model_defaults
from sdbridge.config import load_config
from sdbridge.pipeline.presets import TURBO_T_INDEX_LIST


def _config(tmp_path: Path, *argv: str) -> tuple[Path, object]:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    path = tmp_path / "server.toml"
    path.write_text(server_toml(parser.parse_args(list(argv))), encoding="utf-8")
    return path, resolve_model_defaults(load_config(path))


def test_a_turbo_model_gets_its_one_step_and_others_the_registry_default(tmp_path: Path) -> None:
    _, turbo = _config(tmp_path, "--model", "stabilityai/sd-turbo")
    assert turbo.pipeline.t_index_list == TURBO_T_INDEX_LIST  # type: ignore[attr-defined]
    _, tiny = _config(tmp_path, "--model", "tiny")
    assert tiny.pipeline.t_index_list == tuple(params.BY_NAME["t_index_list"].default)  # type: ignore[attr-defined]


def test_an_explicit_t_index_stands_for_a_turbo_model(tmp_path: Path) -> None:
    path, cfg = _config(tmp_path, "--model", "stabilityai/sd-turbo", "--t-index", "20", "40")
    assert "t_index_list = [20, 40]" in path.read_text(encoding="utf-8")
    assert cfg.pipeline.t_index_list == (20, 40)  # type: ignore[attr-defined]
