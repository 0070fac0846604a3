"""`sdbridge replay --model/--dtype/--device` that differ from the recording: the mismatch report says that the
flags, not the recording, are why the outputs differ (a user replaying a bfloat16 recording with --dtype float32
saw only "6 of 6 outputs differ")."""

from __future__ import annotations

import argparse

from sdbridge.commands import replay


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    replay.add_arguments(parser)
    return parser.parse_args(["x.sdrec", *argv])


RECORDED = {"name": "tiny", "dtype": "bfloat16", "device": "cpu"}


def test_flags_that_change_the_recorded_setup_are_named_with_the_recorded_value() -> None:
    assert replay.overrides(RECORDED, _args("--dtype", "float32", "--model", "small")) == [
        "--model small (recorded: tiny)", "--dtype float32 (recorded: bfloat16)"]


def test_flags_equal_to_the_recording_or_absent_are_not_named() -> None:
    assert replay.overrides(RECORDED, _args()) == []
    assert replay.overrides(RECORDED, _args("--dtype", "bfloat16", "--device", "cpu", "--model", "tiny")) == []
    assert replay.overrides({}, _args("--device", "cpu")) == ["--device cpu (recorded: not noted)"]
