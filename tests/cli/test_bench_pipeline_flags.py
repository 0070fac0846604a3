"""`sdbridge bench pipeline` refuses flags its run would ignore before loading anything (--controlnet beside
--host-time, --steps for a model that is not real-shaped, --accel beside a one-section run were dropped without a
word), and --accel tensorrt, whose "pass --device cuda" advice named a flag this command does not have."""

from __future__ import annotations

import logging

import pytest

from sdbridge import cli
from sdbridge.bench import pipeline_bench


@pytest.fixture
def reports(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """pipeline_report replaced: records its arguments and returns a one-line report."""
    calls: list[dict[str, object]] = []

    def fake(model: str, dtype: str, size: int, frames: int, **kwargs: object) -> str:
        calls.append({"model": model, **kwargs})
        return "report"

    monkeypatch.setattr(pipeline_bench, "pipeline_report", fake)
    return calls


@pytest.mark.parametrize(("argv", "words"), [
    (["--host-time", "--controlnet"], ["--host-time and --controlnet each run one section alone"]),
    (["--model", "tiny", "--steps", "1"], ["--steps 1 applies to the real-shaped models", "--model tiny",
                                           "drop --steps"]),
    (["--model", "sd-turbo-shaped", "--steps", "1", "--host-time"], ["--steps 1 applies"]),
    (["--accel", "tensorrt"], ["--accel tensorrt needs a CUDA GPU", "--accel onnxruntime"]),
    (["--accel", "onnxruntime", "--dtype", "bfloat16"], ["--dtype bfloat16 with --accel onnxruntime on a CPU",
                                                          "use --dtype float32"]),
    (["--controlnet", "--accel", "onnxruntime"], ["--accel onnxruntime is not used by --controlnet"]),
])
def test_a_flag_the_run_would_ignore_is_refused(argv: list[str], words: list[str], reports: list[object],
                                                caplog: pytest.LogCaptureFixture) -> None:
    assert cli.main(["bench", "pipeline", "--frames", "10", *argv]) == 2
    message = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert reports == [], message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("argv", [["--host-time"], ["--controlnet"], ["--accel", "onnxruntime"],
                                  ["--model", "sd-turbo-shaped", "--steps", "1,2"], []])
def test_the_documented_combinations_still_run(argv: list[str], reports: list[object],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bench", "pipeline", "--frames", "10", *argv]) == 0
    assert len(reports) == 1 and "report" in capsys.readouterr().out
