"""The server on a backend: [accel] config, --accel flag, no silent fallback, background build failure stops it."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest

from sdbridge.acceleration.adapters import UnetAdapter
from sdbridge.config import Accel, ServerConfig, parse_config, with_overrides
from sdbridge.errors import ConfigError, EngineBuildError
from sdbridge.served_model import load_model
from sdbridge.server import BridgeServer


def _config(engines_dir: Path, **accel: object) -> ServerConfig:
    return with_overrides(ServerConfig(), model={"name": "tiny", "width": 64, "height": 64},
                          top={"bind": "tcp://127.0.0.1:*"}, accel={"engines_dir": str(engines_dir), **accel})


def test_accel_config_section() -> None:
    cfg = parse_config('[accel]\nbackend = "onnxruntime"\nbackground = true\nthreads = 2\nengines_dir = "e"\n')
    assert cfg.accel.backend is Accel.ONNXRUNTIME and cfg.accel.background and cfg.accel.threads == 2
    assert ServerConfig().accel.backend is Accel.EAGER and ServerConfig().accel.ort_providers == ()
    cfg = parse_config('[accel]\nort_providers = ["CUDAExecutionProvider"]\n')
    assert cfg.accel.ort_providers == ("CUDAExecutionProvider",)
    with pytest.raises(ConfigError, match="unknown key 'fallback'"):
        parse_config('[accel]\nfallback = "eager"\n')
    with pytest.raises(ConfigError, match="not one of"):
        parse_config('[accel]\nbackend = "cuda"\n')


def test_serve_with_an_unavailable_backend_says_why_and_exits_nonzero(caplog: pytest.LogCaptureFixture) -> None:
    from sdbridge.cli import main

    with caplog.at_level(logging.ERROR):
        code = main(["serve", "--model", "tiny", "--accel", "tensorrt", "--bind", "tcp://127.0.0.1:*"])
    assert code != 0
    assert "--accel tensorrt needs the model on a CUDA device" in caplog.text


def test_load_model_on_onnxruntime(engines_dir: Path) -> None:
    factory, _ = load_model(_config(engines_dir, backend=Accel.ONNXRUNTIME))
    pipe = factory(64, 64)
    assert isinstance(pipe.components.unet, UnetAdapter)
    pipe.prepare("castle")
    out = pipe(np.zeros((64, 64, 3), np.uint8))
    assert out.image.shape == (64, 64, 3)


def test_failed_background_build_stops_the_server(engines_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sdbridge.acceleration.onnxruntime_backend import OnnxRuntimeBackend

    def failing_build(self: object, components: object, options: object) -> object:
        time.sleep(0.3)
        raise EngineBuildError("fake: the ONNX export ran out of memory")

    monkeypatch.setattr(OnnxRuntimeBackend, "runners", failing_build)
    server = BridgeServer(_config(engines_dir, backend=Accel.ONNXRUNTIME, background=True))
    try:
        server.start()  # serves with torch eager meanwhile
        deadline = time.monotonic() + 30
        server.run(should_stop=lambda: time.monotonic() > deadline)
        assert time.monotonic() < deadline, "the failed build did not stop the server"
        assert isinstance(server.fatal_error, EngineBuildError)
    finally:
        server.close()
