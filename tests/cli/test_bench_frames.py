"""`sdbridge bench pipeline --frames N` below MIN_FRAMES (and bench transport's counts below MIN_SAMPLES) warns,
naming the flag and a sensible minimum, on the log and in the report (--accel onnxruntime --frames 2 printed ratios
of two frames as if they meant something)."""

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


def test_bench_transport_warns_about_each_small_count(monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from sdbridge.bench import transport
    from sdbridge.commands.bench_transport import MIN_SAMPLES

    runs: list[tuple[int, int]] = []

    def run_benchmark(size: int, frames: int, latency_frames: int, *_: object) -> list[str]:
        runs.append((frames, latency_frames))
        return []

    monkeypatch.setattr(transport, "run_benchmark", run_benchmark)
    monkeypatch.setattr(transport, "report", lambda *_: ["method  frames/s"])
    argv = ["bench", "transport", "--rounds", "1", "--pairs", "0"]
    assert cli.main([*argv, "--frames", str(MIN_SAMPLES), "--latency-frames", str(MIN_SAMPLES)]) == 0
    assert "Warning" not in capsys.readouterr().out and runs == [(MIN_SAMPLES, MIN_SAMPLES)]
    assert cli.main([*argv, "--frames", "20", "--latency-frames", "5"]) == 0
    out = capsys.readouterr().out
    assert "Warning: --frames 20: 20 sample(s) are too few" in out and f"use --frames {MIN_SAMPLES} or more" in out
    assert "Warning: --latency-frames 5:" in out and f"use --latency-frames {MIN_SAMPLES} or more" in out
    assert "--pairs" not in out  # 0 skips the pairs: nothing to warn about
    assert sum("sample(s) are too few" in r.getMessage() for r in caplog.records) == 2
