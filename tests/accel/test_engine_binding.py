"""Engines without waste, on fake `tensorrt` / `onnxruntime` modules (tests/accel/fake_engines.py).

TensorRT: inputs bound by address in the layout the engine was built for (no copies when StreamPipeline
feeds it), the precision builder flag of the model's dtype, the batch range announced so shared UNet calls
split to fit. ONNX Runtime: ONNX element types in the bindings (bfloat16 has no numpy dtype), no copies of
NCHW inputs, and the CUDA providers given the session's stream. The CUDA stream handling itself needs a GPU
(not run here; tests/accel/test_gpu.py runs on one).
"""

from __future__ import annotations

import dataclasses
import sys
import types
from pathlib import Path

import pytest
import torch

from sdbridge.acceleration import AccelOptions, BackendChoice
from sdbridge.acceleration.base import ShapeRange
from sdbridge.acceleration.eager import eager_runners
from sdbridge.acceleration.export_modules import export_modules
from sdbridge.acceleration.factory import accelerate_with_handle
from sdbridge.errors import InputError
from sdbridge.pipeline import Components, StreamConfig, StreamPipeline
from sdbridge.pipeline.shared_batch import run_shared
from tests.accel.fake_engines import FakeEngine, fake_onnxruntime, fake_tensorrt
from tests.conftest import random_frames

SHAPES = ShapeRange(batch=(1, 2, 8), height=(64, 64, 64), width=(64, 64, 64), vae_batch=(1, 1, 1))


@pytest.fixture
def engines(monkeypatch: pytest.MonkeyPatch) -> dict[bytes, FakeEngine]:
    """Plan bytes -> fake engine, served by a fake `tensorrt` module; torch's CUDA stream is a stand-in."""
    found: dict[bytes, FakeEngine] = {}
    monkeypatch.setitem(sys.modules, "tensorrt", fake_tensorrt(found))
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: types.SimpleNamespace(cuda_stream=7))
    return found


def _fake_trt_runners(comps: Components, folder: Path, engines: dict[bytes, FakeEngine]) -> dict[str, object]:
    """TrtRunners over fake engines that compute the components' own modules (float32, on the CPU)."""
    from sdbridge.acceleration.tensorrt_backend import TrtRunner

    unet, encode, decode = export_modules(comps)
    f, c, dt = comps.vae_scale_factor, comps.latent_channels, comps.dtype
    engines[b"unet"] = FakeEngine([("sample", dt), ("timestep", torch.int64), ("encoder_hidden_states", dt)],
                                  ("noise_pred", dt), unet, lambda s, *_: s)
    engines[b"vae_encoder"] = FakeEngine([("images", dt)], ("latents", dt), encode,
                                         lambda x: (x[0], c, x[2] // f, x[3] // f))
    engines[b"vae_decoder"] = FakeEngine([("latents", dt)], ("images", dt), decode,
                                         lambda z: (z[0], 3, z[2] * f, z[3] * f))
    runners = {}
    for name in engines:
        plan = folder / f"{name.decode()}.plan"
        plan.write_bytes(name)
        runners[name.decode()] = TrtRunner(plan, comps.device, SHAPES, name.decode())
    return runners


def _run(comps: Components, frames: int = 4) -> list[torch.Tensor]:
    """The latents of the frames after warm-up (a warm-up slot holds zeros, where GroupNorm's result depends on
    rounding: NCHW and NHWC differ there by up to 0.9 even in torch)."""
    pipe = StreamPipeline(comps, StreamConfig(width=64, height=64, t_index_list=[16, 32], seed=3))
    pipe.prepare(prompt="a castle")
    results = [pipe(frame) for frame in random_frames(frames)]
    return [r.latents for r in results if not r.is_warmup]


def test_a_pipeline_feeds_tensorrt_engines_their_own_layout_without_copies(
        tiny: Components, engines: dict[bytes, FakeEngine], tmp_path: Path) -> None:
    from sdbridge.acceleration.tensorrt_backend import engine_runners

    trt_runners = _fake_trt_runners(tiny, tmp_path, engines)
    runners = engine_runners(trt_runners, tiny.vae_scale_factor, SHAPES, "fake TensorRT")  # type: ignore[arg-type]
    assert runners.memory_format is torch.contiguous_format and runners.unet_batch == (1, 8)
    accelerated, _ = accelerate_with_handle(tiny, AccelOptions(BackendChoice.ONNXRUNTIME), build=lambda: runners)
    assert StreamConfig().channels_last  # torch modules are fed NHWC: engines must not be
    got, expected = _run(accelerated), _run(tiny)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    assert all(len(e.bound) > 0 for e in engines.values())
    assert {name: r.copies for name, r in trt_runners.items()} == {"unet": 0, "vae_encoder": 0, "vae_decoder": 0}

    # the same engines behind runners that do not announce their layout: the pipeline feeds NHWC, each
    # 4-D input is copied once into NCHW (and the results are still right: the copies are what is saved above)
    for r in trt_runners.values():
        r.copies = 0
    silent = dataclasses.replace(runners, memory_format=None)
    accelerated, _ = accelerate_with_handle(tiny, AccelOptions(BackendChoice.ONNXRUNTIME), build=lambda: silent)
    for a, b in zip(_run(accelerated), expected, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    assert trt_runners["unet"].copies > 0 and trt_runners["vae_decoder"].copies > 0  # type: ignore[attr-defined]


def test_tensorrt_binds_the_callers_memory_and_copies_only_other_layouts(
        tiny: Components, engines: dict[bytes, FakeEngine], tmp_path: Path) -> None:
    decoder = _fake_trt_runners(tiny, tmp_path, engines)["vae_decoder"]
    latents = torch.randn(1, 4, 8, 8)
    out = decoder(latents)  # type: ignore[operator]
    assert engines[b"vae_decoder"].bound[-1]["latents"] == latents.data_ptr()
    assert decoder.copies == 0  # type: ignore[attr-defined]
    nhwc = latents.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(decoder(nhwc), out)  # type: ignore[operator]
    assert engines[b"vae_decoder"].bound[-1]["latents"] != nhwc.data_ptr()
    assert decoder.copies == 1  # type: ignore[attr-defined]
    with pytest.raises(InputError, match=r"'latents' is torch.float64.*built for torch.float32"):
        decoder(latents.double())  # type: ignore[operator]
    assert set(decoder.context.streams) == {7}  # type: ignore[attr-defined]  # torch's current (stand-in) stream


@pytest.mark.parametrize(("dtype", "flags"), [(torch.float32, []), (torch.float16, ["FP16"]),
                                             (torch.bfloat16, ["BF16"])])
def test_the_builder_gets_the_precision_flag_of_the_model(
        dtype: torch.dtype, flags: list[str], engines: dict[bytes, FakeEngine], tmp_path: Path) -> None:
    from sdbridge.acceleration.tensorrt_backend import WORKSPACE_BYTES, build_engine

    onnx = tmp_path / "unet.onnx"
    onnx.write_bytes(b"graph")
    build_engine(onnx, tmp_path / "engine.plan", {"sample": [(1, 4, 8, 8)] * 3}, dtype=dtype, progress=False,
                 description="unet")
    config = sys.modules["tensorrt"].configs[-1]  # type: ignore[attr-defined]
    assert config.flags == flags
    assert config.pools == {"WORKSPACE": WORKSPACE_BYTES}
    assert (tmp_path / "engine.plan").read_bytes() == b"plan"


def test_shared_unet_calls_split_to_fit_an_engines_batch_range(tiny: Components) -> None:
    base = eager_runners(tiny)
    sizes: list[int] = []

    def unet(sample: torch.Tensor, *rest: torch.Tensor | None) -> torch.Tensor:
        sizes.append(sample.shape[0])
        if sample.shape[0] > 4:
            raise InputError(f"UNet batch {sample.shape[0]} is outside the engine range (1, 4)")
        return base.unet(sample, *rest)

    def pipelines(comps: Components) -> list[StreamPipeline]:
        pipes = [StreamPipeline(comps, StreamConfig(width=64, height=64, t_index_list=[16, 32], seed=s))
                 for s in (1, 2, 3)]
        for pipe in pipes:
            pipe.prepare(prompt="a castle")
        return pipes

    def shared(unet_batch: tuple[int, int] | None, rounds: int = 1) -> list[torch.Tensor]:
        runners = dataclasses.replace(base, unet=unet, unet_batch=unet_batch, description="fake engine")
        comps, _ = accelerate_with_handle(tiny, AccelOptions(BackendChoice.ONNXRUNTIME), build=lambda: runners)
        pipes = pipelines(comps)
        for frames in [random_frames(3, seed=r) for r in range(rounds)]:
            results = run_shared(list(zip(pipes, frames, strict=True)))
        return [r.latents for r in results]

    shared((1, 4))
    assert sizes == [4, 2]  # three sessions x 2 steps: 6 samples in two calls within the range
    sizes.clear()
    with pytest.raises(InputError, match="batch 6"):  # the same sessions without the announced range
        shared(None)
    assert sizes == [6]
    solo = pipelines(tiny)
    for frames in [random_frames(3, seed=r) for r in range(2)]:
        alone = [pipe(frame).latents for pipe, frame in zip(solo, frames, strict=True)]
    for a, b in zip(shared((1, 4), rounds=2), alone, strict=True):  # after warm-up (zero slots are ill-conditioned)
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_an_accelerated_unet_announces_the_current_runners_range(tiny: Components) -> None:
    from sdbridge.acceleration.adapters import RunnerSlot, UnetAdapter

    slot = RunnerSlot(eager_runners(tiny))
    adapter = UnetAdapter(slot, tiny.unet.config)  # type: ignore[union-attr]
    assert (adapter.max_batch, adapter.min_batch, adapter.memory_format) == (None, 1, None)
    slot.switch(dataclasses.replace(slot.current, unet_batch=(2, 8), memory_format=torch.contiguous_format))
    assert (adapter.max_batch, adapter.min_batch, adapter.memory_format) == (8, 2, torch.contiguous_format)


@pytest.fixture
def ort_module(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = fake_onnxruntime(["sample", "timestep", "encoder_hidden_states"])
    monkeypatch.setitem(sys.modules, "onnxruntime", module)
    return module


def test_onnxruntime_binds_bfloat16_by_its_onnx_element_type(ort_module: types.ModuleType, tmp_path: Path) -> None:
    from sdbridge.acceleration.onnxruntime_backend import OrtSession

    session = OrtSession(tmp_path / "unet.onnx", torch.device("cpu"), 1, lambda x, *_: tuple(x.shape), torch.bfloat16)
    sample, context = torch.randn(2, 4, 8, 8).bfloat16(), torch.randn(2, 77, 32).bfloat16()
    timestep = torch.tensor([999, 499])
    out = session(sample, timestep, context)
    binding = ort_module.sessions[-1].bindings[-1]  # type: ignore[attr-defined]
    assert [b[3] for b in binding.inputs] == [16, 7, 16]  # onnx.TensorProto.BFLOAT16, INT64, BFLOAT16
    assert [b[5] for b in binding.inputs] == [sample.data_ptr(), timestep.data_ptr(), context.data_ptr()]
    assert binding.outputs[0][3] == 16 and binding.outputs[0][5] == out.data_ptr()
    assert out.dtype == torch.bfloat16 and session.copies == 0
    session(sample.contiguous(memory_format=torch.channels_last), timestep, context)
    assert session.copies == 1
    with pytest.raises(InputError, match=r"'sample' is torch\.float64"):
        session(sample.double(), timestep, context)


def test_onnxruntime_element_types_are_onnx_s() -> None:
    onnx = pytest.importorskip("onnx")
    from sdbridge.acceleration.onnxruntime_backend import ONNX_ELEMENT_TYPES

    expected = {torch.float32: onnx.TensorProto.FLOAT, torch.float16: onnx.TensorProto.FLOAT16,
                torch.int64: onnx.TensorProto.INT64, torch.bfloat16: onnx.TensorProto.BFLOAT16}
    assert expected == ONNX_ELEMENT_TYPES


def test_the_cuda_providers_run_on_the_sessions_stream() -> None:
    from sdbridge.acceleration.onnxruntime_backend import stream_providers

    got = stream_providers(["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"], 1, 1234)
    options = {"device_id": "1", "user_compute_stream": "1234"}
    assert got == [("TensorrtExecutionProvider", options), ("CUDAExecutionProvider", options), "CPUExecutionProvider"]
