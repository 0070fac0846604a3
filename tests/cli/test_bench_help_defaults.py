"""Every `sdbridge bench ...` flag with a default says it in `--help` (a user reading `bench pipeline --help` could
not tell which --size or --frames a plain run measures, nor `bench preview`'s rounds, window, fps or viewer)."""

from __future__ import annotations

import argparse
import importlib

import pytest

from sdbridge.commands import bench


def _shown(default: object) -> str:
    """The default as its help writes it: 10.0 as "10", a tuple as "32,45"."""
    if isinstance(default, float):
        return f"{default:g}"
    if isinstance(default, tuple):
        return ",".join(str(v) for v in default)
    return str(default)


@pytest.mark.parametrize("module_name", bench.BENCH_MODULES)
def test_each_flag_with_a_default_names_it_in_its_help(module_name: str) -> None:
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    silent = [f"{action.option_strings[0]} (default {action.default!r}): {action.help!r}"
              for action in parser._actions
              if action.default not in (None, False, 0, argparse.SUPPRESS)
              and ("default" not in (action.help or "") or _shown(action.default) not in (action.help or ""))]
    assert not silent, f"{module.NAME}: flags whose help hides their default: {silent}"
