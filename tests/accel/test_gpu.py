"""GPU-only tests: TensorRT engines, ONNX Runtime's CUDA provider and CUDA graphs. Marked `gpu`; they skip here
(no CUDA GPU, no TensorRT on this machine) with the reason, and run on a GPU machine with `pytest -m gpu`."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import torch

from sdbridge.acceleration import AccelOptions, BackendChoice, ShapeRange, accelerate
from sdbridge.pipeline import CfgMode, Components, StreamConfig, StreamPipeline, load_components
from tests.conftest import random_frames

NO_CUDA = "needs a CUDA GPU and a CUDA build of torch (this machine has neither)"
NO_TRT = "needs NVIDIA TensorRT >= 10 (pip install 'streamdiffusion-bridge[tensorrt]'); not installed here"
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
needs_trt = pytest.mark.skipif(importlib.util.find_spec("tensorrt") is None, reason=NO_TRT)


@pytest.fixture(scope="module")
def tiny_cuda() -> Components:
    return load_components("tiny", device="cuda", dtype=torch.float16)


def _agree(eager: Components, fast: Components, size: int, mode: CfgMode, atol: float) -> None:
    config = StreamConfig(width=size, height=size, t_index_list=(16, 32), cfg_mode=mode, guidance_scale=1.4)
    a, b = StreamPipeline(eager, config), StreamPipeline(fast, config)
    a.prepare("castle", "blurry")
    b.prepare("castle", "blurry")
    for frame in random_frames(3, size, seed=20):
        ra, rb = a(frame), b(frame)
        if not ra.is_warmup:
            torch.testing.assert_close(rb.latents.float(), ra.latents.float(), atol=atol, rtol=1e-2)


@pytest.mark.gpu
@needs_cuda
@needs_trt
@pytest.mark.parametrize("mode", list(CfgMode))
def test_tensorrt_matches_torch(tiny_cuda: Components, tmp_path: Path, mode: CfgMode) -> None:
    shapes = ShapeRange(batch=(1, 2, 8), height=(64, 64, 128), width=(64, 64, 128), vae_batch=(1, 1, 2))
    trt = accelerate(tiny_cuda, AccelOptions(BackendChoice.TENSORRT, engines_dir=tmp_path, shapes=shapes,
                                             progress=False))
    _agree(tiny_cuda, trt, 64, mode, atol=5e-2)
    _agree(tiny_cuda, trt, 128, mode, atol=5e-2)  # another size inside the built range: no rebuild
    assert len(list(tmp_path.glob("*-tensorrt-*"))) == 3


@pytest.mark.gpu
@needs_cuda
@needs_trt
def test_tensorrt_refuses_sizes_outside_the_range(tiny_cuda: Components, tmp_path: Path) -> None:
    from sdbridge.errors import InputError

    shapes = ShapeRange(batch=(1, 2, 4), height=(64, 64, 64), width=(64, 64, 64), vae_batch=(1, 1, 1))
    trt = accelerate(tiny_cuda, AccelOptions(BackendChoice.TENSORRT, engines_dir=tmp_path, shapes=shapes,
                                             progress=False))
    pipe = StreamPipeline(trt, StreamConfig(width=128, height=128, t_index_list=(16, 32)))
    pipe.prepare("castle")
    with pytest.raises(InputError, match="outside the TensorRT engine's range"):
        pipe(random_frames(1, 128)[0])


@pytest.mark.gpu
@needs_cuda
def test_onnxruntime_cuda_provider_matches_torch(tiny_cuda: Components, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="onnxruntime-gpu not installed")
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        pytest.skip("onnxruntime has no CUDAExecutionProvider: install onnxruntime-gpu")
    ort = accelerate(tiny_cuda, AccelOptions(BackendChoice.ONNXRUNTIME, engines_dir=tmp_path, progress=False))
    _agree(tiny_cuda, ort, 64, CfgMode.SELF, atol=5e-2)


@pytest.mark.gpu
@needs_cuda
def test_cuda_graphs_match_torch(tiny_cuda: Components) -> None:
    """torch.compile mode "reduce-overhead" (CUDA graphs) through the same seam."""
    graphs = accelerate(tiny_cuda, AccelOptions(BackendChoice.COMPILE, cuda_graphs=True))
    _agree(tiny_cuda, graphs, 64, CfgMode.NONE, atol=5e-2)


@pytest.mark.gpu
@needs_cuda
def test_served_cuda_graphs_are_warm_and_shared_batches_match(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's compile path with CUDA graphs (inductor): warmed at load on the device lane the worker adopts,
    nothing compiled nor recorded while serving there, and sessions sharing a UNet call get what they get alone
    (outputs of a CUDA graph are copied before reuse)."""
    import functools
    import threading

    from torch._dynamo.utils import counters
    from torch._inductor import cudagraph_trees

    from sdbridge.config import Accel, ServerConfig, with_overrides
    from sdbridge.pipeline.shared_batch import run_shared
    from sdbridge.runtime.device_lane import WarmedFactory
    from sdbridge.served_model import factory_from_components, load_model

    recorded: list[str] = []  # the thread of every CUDA graph recorded
    record = cudagraph_trees.CUDAGraphTreeManager.record_function

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        recorded.append(threading.current_thread().name)
        return record(self, *args, **kwargs)

    monkeypatch.setattr(cudagraph_trees.CUDAGraphTreeManager, "record_function", spy)
    config = with_overrides(ServerConfig(), model={"name": "tiny", "device": "cuda", "width": 64, "height": 64},
                            limits={"max_sessions": 2}, accel={"backend": Accel.COMPILE, "cuda_graphs": True})
    factory, _ = load_model(config)
    assert isinstance(factory, WarmedFactory)
    lane = factory.take_lane()
    assert lane is not None and recorded and set(recorded) == {lane.thread.name}, recorded
    warm_records = len(recorded)
    eager, _ = factory_from_components(load_components("tiny", device="cuda", dtype=torch.float16), config)
    graphed, alone = [factory(64, 64) for _ in range(2)], [eager(64, 64) for _ in range(2)]
    for k, pipe in enumerate(graphed + alone):
        pipe.prepare(f"castle {k % 2}")
    graphs = counters["stats"]["unique_graphs"]
    try:
        for frame in range(4):
            images = random_frames(2, 64, seed=frame)
            got = lane.call(functools.partial(run_shared, list(zip(graphed, images, strict=True))),
                            torch.device("cuda"))
            expected = [pipe(image) for pipe, image in zip(alone, images, strict=True)]
            for g, e in zip(got, expected, strict=True):
                if not e.is_warmup:
                    torch.testing.assert_close(g.latents.float(), e.latents.float(), atol=5e-2, rtol=1e-2)
    finally:
        assert lane.close(30)
    assert counters["stats"]["unique_graphs"] == graphs
    assert len(recorded) == warm_records, "the lane recorded CUDA graphs of warmed shapes while serving"


@pytest.mark.gpu
@needs_cuda
@needs_trt
def test_tensorrt_bfloat16_engines_bind_in_place_and_split_shared_calls(tmp_path: Path) -> None:
    """bfloat16 engines (BF16 builder flag) agree with torch, the pipeline's inputs are bound without copies,
    and three sessions sharing UNet calls fit an engine built for batch 1..4 (6 samples: 4 + 2)."""
    from sdbridge.acceleration.factory import accelerate_with_handle
    from sdbridge.acceleration.tensorrt_backend import TensorRTBackend
    from sdbridge.pipeline.shared_batch import run_shared

    comps = load_components("tiny", device="cuda", dtype=torch.bfloat16)
    shapes = ShapeRange(batch=(1, 2, 4), height=(64, 64, 64), width=(64, 64, 64), vae_batch=(1, 1, 1))
    options = AccelOptions(BackendChoice.TENSORRT, engines_dir=tmp_path, shapes=shapes, progress=False)
    runners = TensorRTBackend().runners(comps, options)
    trt, _ = accelerate_with_handle(comps, options, build=lambda: runners)
    _agree(comps, trt, 64, CfgMode.NONE, atol=1e-1)
    assert runners.vae_encode.copies == 0 and runners.vae_decode.copies == 0  # type: ignore[attr-defined]
    pipes = [StreamPipeline(trt, StreamConfig(width=64, height=64, t_index_list=(16, 32), seed=s)) for s in (1, 2, 3)]
    for pipe in pipes:
        pipe.prepare("castle")
    for frames in (random_frames(3, seed=1), random_frames(3, seed=2)):
        results = run_shared(list(zip(pipes, frames, strict=True)))
    assert all(torch.isfinite(r.latents.float()).all() for r in results)
