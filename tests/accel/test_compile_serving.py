"""The compiled backend from the server: [accel] cuda_graphs and --cuda-graphs, static shapes compiled at load for
exactly the server's UNet batches, warm before binding, and no recompilation while serving.

torch.compile runs with backend "eager" here (the same dynamo capture, guards and recompilation as inductor,
without code generation), so these tests take seconds on a CPU.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import torch
from torch._dynamo.utils import counters

from sdbridge.acceleration import AccelOptions, BackendChoice, warmup
from sdbridge.acceleration import compiled as compiled_module
from sdbridge.acceleration.static_compile import StaticCompiled
from sdbridge.acceleration.warmup import warm_batches, warm_up
from sdbridge.config import Accel, GuidanceMode, ServerConfig, parse_config, with_overrides
from sdbridge.pipeline import CfgMode, Components
from sdbridge.pipeline.shared_batch import run_shared
from sdbridge.served_model import load_model
from tests.conftest import random_frames


def _config(**limits: Any) -> ServerConfig:
    return with_overrides(ServerConfig(), model={"name": "tiny", "width": 64, "height": 64},
                          top={"bind": "tcp://127.0.0.1:*"}, limits=limits, accel={"backend": Accel.COMPILE})


@pytest.fixture
def eager_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's torch.compile backend set to "eager" (no C++ code generation on this CPU)."""
    monkeypatch.setattr(compiled_module, "COMPILER", "eager")


def test_cuda_graphs_from_the_config_and_the_command_line() -> None:
    from sdbridge.commands.serve import add_arguments, config_from_args

    assert ServerConfig().accel.cuda_graphs is False
    assert parse_config('[accel]\nbackend = "compile"\ncuda_graphs = true\n').accel.cuda_graphs is True
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert config_from_args(parser.parse_args(["--accel", "compile", "--cuda-graphs"])).accel.cuda_graphs is True
    assert config_from_args(parser.parse_args(["--accel", "compile"])).accel.cuda_graphs is False


def test_warm_batches_are_the_servers_unet_batches() -> None:
    """steps x CFG multiplier (frame_buffer_size 1) x 1 .. the sessions that may share one call."""
    full = with_overrides(_config(max_sessions=3), pipeline={"t_index_list": (16, 32), "cfg_mode": GuidanceMode.FULL})
    assert warm_batches(full) == (4, 8, 12)
    initialize = with_overrides(full, pipeline={"t_index_list": (10, 20, 30), "cfg_mode": GuidanceMode.INITIALIZE})
    assert warm_batches(initialize) == (4, 8, 12)
    assert warm_batches(with_overrides(full, model={"share_unet_batch": False})) == (4,)


def test_cuda_graphs_mode_only_on_cuda(tiny: Components, monkeypatch: pytest.MonkeyPatch,
                                       caplog: pytest.LogCaptureFixture) -> None:
    """mode "reduce-overhead" and dynamic=False on a CUDA device; on the CPU the same path without graphs, logged."""
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(torch, "compile", lambda module, **kwargs: seen.append(kwargs) or module)
    backend = compiled_module.CompiledBackend(compiler="eager")
    on_cuda = dataclasses.replace(tiny, device=torch.device("cuda"))
    runners = backend.runners(on_cuda, AccelOptions(BackendChoice.COMPILE, cuda_graphs=True))
    assert "CUDA graphs" in runners.description
    assert seen == [{"backend": "eager", "mode": "reduce-overhead", "dynamic": False}] * 3
    seen.clear()
    with caplog.at_level(logging.WARNING):
        runners = backend.runners(tiny, AccelOptions(BackendChoice.COMPILE, cuda_graphs=True))
    assert "CUDA graphs" not in runners.description
    assert seen == [{"backend": "eager", "mode": None, "dynamic": False}] * 3
    assert "CUDA graphs need a CUDA device" in caplog.text


def test_warm_at_load_then_no_recompilation_while_serving(eager_compiler: None, monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """Every warmed batch (1..3 sessions sharing a call) and new t_index values and the SELF CFG mode (same batch)
    run without compiling; a batch that was not warmed is compiled, logged as a warning and counted."""
    warmed: list[Sequence[StaticCompiled]] = []

    def spy(factory: Any, config: ServerConfig, runners: Sequence[StaticCompiled], lane: Any = None) -> float:
        warmed.append(runners)
        return warm_up(factory, config, runners, lane)

    monkeypatch.setattr(warmup, "warm_up", spy)
    with caplog.at_level(logging.INFO):
        factory, _ = load_model(_config(max_sessions=3))
    assert "warm in" in caplog.text and "UNet batches [2, 4, 6]" in caplog.text
    pipes = [factory(64, 64) for _ in range(3)]
    for k, pipe in enumerate(pipes):
        pipe.prepare(f"castle {k}")
    (runners,) = warmed
    assert [r.name for r in runners] == ["unet", "vae_encode", "vae_decode"] and all(r.serving for r in runners)
    assert runners[0].compiles_at_load >= 3  # one graph per warmed UNet batch
    graphs = counters["stats"]["unique_graphs"]
    frames = iter(random_frames(40, seed=3))
    for t_index_list, cfg_mode in [((32, 45), CfgMode.NONE), ((5, 40), CfgMode.NONE), ((20, 30), CfgMode.SELF)]:
        for pipe in pipes:
            pipe.update(t_index_list=t_index_list, cfg_mode=cfg_mode)
        for _ in range(2):
            pipes[0](next(frames))
            run_shared([(pipe, next(frames)) for pipe in pipes[:2]])
            run_shared([(pipe, next(frames)) for pipe in pipes])
    assert counters["stats"]["unique_graphs"] == graphs, "torch compiled while serving warmed shapes"
    assert [r.compiles_serving for r in runners] == [0, 0, 0]
    assert "not warmed" not in caplog.text
    pipes[0].update(t_index_list=(10, 20, 30))  # batch 3: never warmed
    with caplog.at_level(logging.WARNING):
        pipes[0](next(frames))
    assert counters["stats"]["unique_graphs"] > graphs and runners[0].compiles_serving >= 1
    assert "unet input shapes" in caplog.text and "were not warmed at load" in caplog.text


def test_the_server_warms_before_it_binds(eager_compiler: None, caplog: pytest.LogCaptureFixture) -> None:
    from sdbridge.server import BridgeServer

    server = BridgeServer(_config(max_sessions=1))
    try:
        with caplog.at_level(logging.INFO):
            server.start()
    finally:
        server.close()
    messages = [r.getMessage() for r in caplog.records]
    warm = next(i for i, m in enumerate(messages) if m.startswith("warm in"))
    serving = next(i for i, m in enumerate(messages) if m.startswith("serving tiny on"))
    assert warm < serving
    assert np.isfinite(float(messages[warm].split()[2]))
