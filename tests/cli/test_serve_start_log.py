"""What `sdbridge serve` logs at start: a ControlNet KIND the server cannot feed (a typo such as `depht`) is warned
about before the model loads, naming the KIND it resembles."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sdbridge import cli
from tests.cli.conftest import free_port


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "ControlNet KIND" in
            r.getMessage()]


def test_a_misspelt_controlnet_kind_is_warned_before_the_load(loads: list[str],
                                                               caplog: pytest.LogCaptureFixture) -> None:
    bind = f"tcp://127.0.0.1:{free_port()}"
    with caplog.at_level(logging.INFO):
        assert cli.main(["serve", "--model", "tiny", "--bind", bind, "--controlnet", "depht=tiny"]) == 2
    assert loads == ["load"]
    (warning,) = _warnings(caplog)
    assert "'depht'" in warning and "did you mean 'depth'?" in warning and "Control plane named 'depht'" in warning


@pytest.mark.parametrize("kind", ["depth", "normal", "normals", "seg", "segmentation", "canny", "lineart_anime"])
def test_the_kinds_the_server_feeds_get_no_warning(kind: str, loads: list[str],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    bind = f"tcp://127.0.0.1:{free_port()}"
    with caplog.at_level(logging.INFO):
        assert cli.main(["serve", "--model", "tiny", "--bind", bind, "--controlnet", f"{kind}=tiny"]) == 2
    assert loads == ["load"] and _warnings(caplog) == []



@pytest.mark.parametrize("backend", ["onnxruntime", "compile"])
def test_an_attention_bank_with_an_engine_backend_is_refused_before_the_load(
        backend: str, tmp_path: Path, loads: list[str], caplog: pytest.LogCaptureFixture) -> None:
    config = tmp_path / "server.toml"
    config.write_text("[pipeline]\nattention_bank = 3\n", encoding="utf-8")
    bind = f"tcp://127.0.0.1:{free_port()}"
    assert cli.main(["serve", "--model", "tiny", "--bind", bind, "--config", str(config), "--accel", backend]) == 2
    assert loads == []
    message = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert f"pipeline.attention_bank=3 with accel.backend={backend}" in message
    assert "attention_bank = 0" in message and "--accel eager" in message
    caplog.clear()
    assert cli.main(["serve", "--model", "tiny", "--bind", bind, "--config", str(config)]) == 2
    assert loads == ["load"]  # eager takes the bank


def test_float16_on_a_cpu_is_warned_about(loads: list[str], caplog: pytest.LogCaptureFixture) -> None:
    bind = f"tcp://127.0.0.1:{free_port()}"
    with caplog.at_level(logging.INFO):
        assert cli.main(["serve", "--model", "tiny", "--bind", bind, "--device", "cpu", "--dtype", "float16"]) == 2
        warned = [r.getMessage() for r in caplog.records
                  if r.levelno == logging.WARNING and "float16" in r.getMessage()]
        assert len(warned) == 1 and "--dtype auto" in warned[0] and "bfloat16 or float32" in warned[0]
        caplog.clear()
        assert cli.main(["serve", "--model", "tiny", "--bind", bind, "--device", "cpu", "--dtype", "float32"]) == 2
        assert not [r for r in caplog.records if r.levelno == logging.WARNING and "float16" in r.getMessage()]


@pytest.mark.parametrize(("source", "words"), [
    ("tinyy", ["'tinyy' (did you mean 'tiny'?) is not tiny, tiny-plus", "h94/IP-Adapter/models/"]),
    ("/no/such/adapter.safetensors", ["'/no/such/adapter.safetensors' is not tiny, tiny-plus, a weight file here"]),
    ("adapter.bin", ["'adapter.bin' is not"]),
])
def test_an_ip_adapter_source_of_no_known_form_is_refused_before_the_load(
        source: str, words: list[str], loads: list[str], caplog: pytest.LogCaptureFixture) -> None:
    bind = f"tcp://127.0.0.1:{free_port()}"
    assert cli.main(["serve", "--model", "tiny", "--bind", bind, "--ip-adapter", source]) == 2
    message = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert loads == [], message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("source", ["tiny", "tiny-plus@0.5", "h94/IP-Adapter/models/ip-adapter_sd15.safetensors"])
def test_the_documented_ip_adapter_forms_reach_the_load(source: str, loads: list[str]) -> None:
    bind = f"tcp://127.0.0.1:{free_port()}"
    assert cli.main(["serve", "--model", "tiny", "--bind", bind, "--ip-adapter", source]) == 2
    assert loads == ["load"]


def test_temporal_settings_of_the_config_are_named_at_start(tmp_path: Path, loads: list[str],
                                                             caplog: pytest.LogCaptureFixture) -> None:
    config = tmp_path / "server.toml"
    config.write_text("[pipeline]\nmotion_warp = 0.5\nlatent_feedback = 0.2\n", encoding="utf-8")
    bind = f"tcp://127.0.0.1:{free_port()}"
    with caplog.at_level(logging.INFO):
        assert cli.main(["serve", "--model", "tiny", "--bind", bind, "--config", str(config)]) == 2
    lines = [r.getMessage() for r in caplog.records if "every session starts with" in r.getMessage()]
    assert lines == ["every session starts with latent_feedback=0.2, motion_warp=0.5 ([pipeline] of the config); the "
                     "warp needs a Motion plane in each Frame (the Welcome's wanted_planes asks for it): a frame "
                     "without one is not warped"]
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert cli.main(["serve", "--model", "tiny", "--bind", bind]) == 2
    assert not [r for r in caplog.records if "every session starts with" in r.getMessage()]


def test_bfloat16_on_onnxruntime_on_a_cpu_is_refused_before_the_load(loads: list[str],
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    bind = f"tcp://127.0.0.1:{free_port()}"
    assert cli.main(["serve", "--model", "tiny", "--bind", bind, "--dtype", "bfloat16", "--accel", "onnxruntime"]) == 2
    message = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert loads == [], message
    assert "--dtype bfloat16 ([model] dtype) with --accel onnxruntime on a CPU" in message
    assert "use --dtype float32" in message and "--accel eager" in message
    assert cli.main(["serve", "--model", "tiny", "--bind", bind, "--accel", "onnxruntime"]) == 2
    assert loads == ["load"]  # auto picks float32 with onnxruntime
