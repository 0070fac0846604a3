"""`sdbridge bench temporal`'s parameter flags are refused while the flags are parsed, naming the flag, the value and
the registry's range, before any model loads (a `--feedback 2` used to load the model, run rows for half a minute and
then fail with a StreamConfig error that named no flag)."""

from __future__ import annotations

import argparse
import logging

import pytest

from sdbridge.commands import bench_temporal


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sdbridge bench temporal")
    bench_temporal.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize(("flag", "value", "words"), [
    ("--feedback", "2", ["--feedback", "latent_feedback=2.0", "[0, 0.5]", "e.g. 0.3"]),
    ("--warp", "-0.1", ["--warp", "motion_warp=-0.1", "[0, 1]"]),
    ("--warp-step", "60", ["--warp-step", "motion_warp_step=60", "[0, 49]"]),
    ("--bank", "9", ["--bank", "attention_bank=9", "[0, 8]"]),
    ("--injection", "1.5", ["--injection", "feature_injection=1.5", "[0, 1]"]),
    ("--injection-threshold", "nan", ["--injection-threshold", "feature_injection_threshold=nan"]),
    ("--scene-cut-threshold", "2", ["--scene-cut-threshold", "scene_cut_threshold=2.0", "[0, 1]"]),
    ("--t-index", "32,2000", ["--t-index", "2000", "[0, 49]", "e.g. 32,45"]),
    ("--t-index", "45,32", ["--t-index", "ascending"]),
    ("--warp", "strong", ["--warp", "'strong' is not a number"]),
])
def test_an_out_of_range_value_is_refused_naming_the_flag_and_range(
        flag: str, value: str, words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parse(flag, value)
    assert exit_info.value.code == 2
    message = capsys.readouterr().err.splitlines()[-1]
    for word in words:
        assert word in message, message


def test_valid_values_parse_to_the_registry_types() -> None:
    args = _parse("--feedback", "0.2", "--bank", "3", "--t-index", "10,40", "--warp-step", "0")
    assert (args.feedback, args.bank, args.t_index, args.warp_step) == (0.2, 3, (10, 40), 0)
    defaults = _parse()
    assert (defaults.feedback, defaults.warp, defaults.t_index, defaults.warp_step) == (0.3, 0.6, (32, 45), None)


def test_float16_on_the_cpu_is_refused_before_the_model_loads(monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    from sdbridge import cli
    from sdbridge.pipeline import components

    loads: list[str] = []
    monkeypatch.setattr(components, "load_components", lambda *a, **k: loads.append("load"))
    assert cli.main(["bench", "temporal", "--model", "tiny", "--dtype", "float16"]) == 2
    message = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert loads == [] and "--dtype float16 on --device cpu" in message and "float32 or bfloat16" in message
