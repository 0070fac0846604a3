"""`sdbridge bench pipeline --frames N` below MIN_FRAMES warns, naming the flag and a sensible minimum, on the log
and in the report (--accel onnxruntime --frames 2 printed ratios of two frames as if they meant something)."""

from __future__ import annotations

import logging

import pytest

from sdbridge import cli
from sdbridge.bench import pipeline_bench
from sdbridge.commands.bench_pipeline import MIN_FRAMES
from sdbridge.runtime import host_heap


@pytest.fixture
def reports(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    frames_asked: list[int] = []

    def report(model: str, dtype: str, size: int, frames: int, **_: object) -> str:
        frames_asked.append(frames)
        return "| configuration | eager frames/s | onnxruntime frames/s |"

    monkeypatch.setattr(pipeline_bench, "pipeline_report", report)
    monkeypatch.setattr(host_heap, "keep_freed_buffers", lambda: None)
    return frames_asked


@pytest.mark.parametrize(("frames", "warned"), [(2, True), (MIN_FRAMES - 1, True), (MIN_FRAMES, False)])
def test_few_frames_warn(frames: int, warned: bool, reports: list[int], caplog: pytest.LogCaptureFixture,
                         capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "pipeline", "--model", "tiny", "--accel", "onnxruntime", "--frames", str(frames)]
    assert cli.main(argv) == 0
    assert reports == [frames]
    out = capsys.readouterr().out
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    hint = f"use --frames {MIN_FRAMES} or more"
    assert (f"Warning: --frames {frames}:" in out and hint in out) == warned, out
    assert any(f"--frames {frames}:" in w and hint in w for w in warnings) == warned, warnings
    assert out.startswith("| configuration")  # the report itself is unchanged
