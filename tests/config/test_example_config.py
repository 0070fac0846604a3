"""configs/server.toml says it lists every setting with its default: every key of ServerConfig (but the internal
ones) is in it, with the default ServerConfig has, and the file parses as it is."""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from enum import Enum
from pathlib import Path

from sdbridge.config import ServerConfig, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "server.toml"


def _tables() -> dict[str, type]:
    hints = typing.get_type_hints(ServerConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(ServerConfig)
            if not f.metadata.get("internal") and dataclasses.is_dataclass(hints[f.name])}


def _plain(value: object) -> object:
    return value.value if isinstance(value, Enum) else list(value) if isinstance(value, tuple) else value


def test_every_setting_is_in_the_example_with_its_default() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    missing, different = [], []
    for table, cls in _tables().items():
        defaults = cls()
        for f in dataclasses.fields(cls):
            if f.metadata.get("internal"):
                continue
            if f.name not in data.get(table, {}):
                missing.append(f"[{table}] {f.name}")
            elif data[table][f.name] != _plain(getattr(defaults, f.name)):
                different.append(f"[{table}] {f.name} = {data[table][f.name]!r}, default {getattr(defaults, f.name)!r}")
    assert not missing, f"configs/server.toml lacks {missing}"  # before: attention_bank_warp, max_planes
    assert not different, different


def test_the_example_parses() -> None:
    assert load_config(EXAMPLE).model.name == "tiny"


def test_the_model_name_comment_lists_every_preset() -> None:
    """The comment of [model] name listed tiny, small and identity only; tiny-sdxl and the two real-shaped presets
    load with `--config` as well."""
    from sdbridge.pipeline.components import IDENTITY, PRESET_NAMES

    text = EXAMPLE.read_text(encoding="utf-8")
    comment = " ".join(text.split('name = "tiny"', 1)[1].split("\ndevice = ", 1)[0].split())
    for name in (IDENTITY, *PRESET_NAMES):
        assert f'"{name}"' in comment, (name, comment)
