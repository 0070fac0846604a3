"""ControlNets in engines (sdbridge.acceleration.controlnet_*): ONNX Runtime runs a ControlNet's per-step part and
equals eager (residuals and a whole Stream Batch pipeline, SD and SDXL tiny weights); the ONNX file is cached under
a key that changes with the weights and the name; the TensorRT path keys, profiles and binds its engines like the
UNet's, checked on a fake `tensorrt` module (a real engine is not run here: no GPU, no TensorRT).
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import torch

from sdbridge.acceleration import AccelOptions, BackendChoice
from sdbridge.acceleration.base import ShapeRange
from sdbridge.acceleration.controlnet_export import (
    ControlNetModule,
    cached_controlnet_onnx,
    controlnet_onnx_key,
    residual_layout,
)
from sdbridge.acceleration.controlnet_runtime import ort_controlnets
from sdbridge.acceleration.controlnet_trt import controlnet_profiles, controlnet_trt_keys
from sdbridge.acceleration.engine_cache import EngineKey
from sdbridge.acceleration.tensorrt_backend import WORKSPACE_BYTES, engine_key
from sdbridge.errors import InputError
from sdbridge.pipeline import CfgMode, Components, StreamConfig, StreamPipeline
from sdbridge.pipeline.controlnet import ControlNets, tiny_controlnet
from tests.accel.fake_engines import FakeContext, FakeEngine, fake_tensorrt, tensor_at
from tests.conftest import random_frames

SHAPES = ShapeRange(batch=(1, 2, 8), height=(48, 64, 96), width=(48, 64, 96), vae_batch=(1, 1, 1))


def _options(folder: Path) -> AccelOptions:
    return AccelOptions(BackendChoice.ONNXRUNTIME, engines_dir=folder, threads=2, progress=False, shapes=SHAPES)


def _inputs(comps: Components, nets: ControlNets, batch: int, h: int, w: int, seed: int = 0) -> dict[str, Any]:
    """ControlNet call arguments at latent size h x w (an embedded control image, SDXL conditioning if needed)."""
    g = torch.Generator().manual_seed(seed)
    model = nets.models["depth"]
    f = comps.vae_scale_factor
    args: dict[str, Any] = {
        "sample": torch.randn(batch, comps.latent_channels, h, w, generator=g),
        "timestep": torch.tensor([999, 500, 250, 1][:batch]),
        "encoder_hidden_states": torch.randn(batch, 77, int(model.config.cross_attention_dim), generator=g),
        "controlnet_cond": nets.embed("depth", torch.rand(batch, 3, h * f, w * f, generator=g)),
        "added_cond_kwargs": None}
    if getattr(model.config, "addition_embed_type", None) == "text_time":
        pooled = int(model.config.projection_class_embeddings_input_dim) - 6 * int(model.config.addition_time_embed_dim)
        args["added_cond_kwargs"] = {"text_embeds": torch.randn(batch, pooled, generator=g),
                                     "time_ids": torch.tensor([[h * f, w * f, 0, 0, h * f, w * f]] * batch).float()}
    return args


def _residuals(model: torch.nn.Module, args: dict[str, Any]) -> list[torch.Tensor]:
    with torch.no_grad():
        down, mid = model(**args, conditioning_scale=1.0, return_dict=False)
    return [*down, mid]


@pytest.mark.parametrize("family", ["tiny", "tiny_sdxl"])
def test_onnxruntime_residuals_equal_eager(family: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    comps = request.getfixturevalue(family)
    nets = ControlNets({"depth": tiny_controlnet(comps, seed=1)})
    ort = ort_controlnets(comps, nets, _options(tmp_path))
    for batch, h, w in ((2, 8, 8), (3, 6, 10)):  # the export's shape and another batch and (odd-halving) size
        args = _inputs(comps, nets, batch, h, w, seed=batch)
        eager, engine = _residuals(nets.models["depth"], args), _residuals(ort.models["depth"], args)
        assert [t.shape for t in engine] == [t.shape for t in eager]
        assert [r.shape(batch, h, w) for r in residual_layout(nets.models["depth"])] == [t.shape for t in eager]
        for a, b in zip(eager, engine, strict=True):
            torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4)
        assert max(t.abs().max().item() for t in eager) > 1e-2  # the residuals are not trivially zero
    assert ort.models["depth"].calls == 2
    with pytest.raises(InputError, match=r"controlnet_cond has 3 channels; the engine takes the conditioning "
                                         r"embedding \(\d+ channels\)"):
        ort.models["depth"](**{**args, "controlnet_cond": torch.rand(3, 3, 48, 80)})


def test_a_pipeline_with_onnxruntime_controlnets_equals_eager(tiny: Components, tmp_path: Path) -> None:
    """Stream Batch, CFG full, two ControlNets: the frames of a pipeline whose ControlNets run in ONNX Runtime equal
    the eager ControlNets' (the UNet eager in both: its residual inputs stay in torch)."""
    nets = ControlNets({"depth": tiny_controlnet(tiny, seed=1), "canny": tiny_controlnet(tiny, seed=2)})
    ort = ort_controlnets(tiny, nets, _options(tmp_path))
    frames, controls = random_frames(4, seed=5), random_frames(4, seed=6)

    def run(controlnets: ControlNets) -> list[torch.Tensor]:
        cfg = StreamConfig(width=64, height=64, t_index_list=[16, 45], cfg_mode=CfgMode.FULL, guidance_scale=1.5,
                           seed=7, controlnet_scale=(("canny", 0.5),))
        pipe = StreamPipeline(tiny, cfg, controlnets)
        pipe.prepare(prompt="a castle", negative_prompt="blurry")
        out = []
        for frame, control in zip(frames, controls, strict=True):
            pipe.control.set_image("depth", control)
            pipe.control.set_image("canny", control[::-1].copy())
            out.append(pipe(frame).latents)
        return out

    eager, engine = run(nets), run(ort)
    for a, b in zip(eager, engine, strict=True):
        torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4)
    assert ort.models["depth"].calls > 0 and ort.models["canny"].calls > 0


def test_the_onnx_file_is_cached_under_a_key_of_weights_and_name(tiny: Components, tmp_path: Path) -> None:
    nets = ControlNets({"depth": tiny_controlnet(tiny, seed=1)})
    first = cached_controlnet_onnx(tiny, nets, _options(tmp_path))["depth"]
    folders = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    again = cached_controlnet_onnx(tiny, nets, _options(tmp_path))["depth"]
    assert again == first and sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == folders
    manifest = json.loads((first[0].parent / "manifest.json").read_text())
    assert manifest["key"]["extra"]["controlnet"] == "depth" and manifest["key"]["component"] == "controlnet"
    other = ControlNets({"depth": tiny_controlnet(tiny, seed=2)})
    assert controlnet_onnx_key(tiny, other, "depth").digest != first[1].digest  # other weights: another file
    renamed = ControlNets({"canny": nets.models["depth"]})
    assert controlnet_onnx_key(tiny, renamed, "canny").digest != first[1].digest
    assert controlnet_onnx_key(tiny, renamed, "canny").weights_hash == first[1].weights_hash


# ----------------------------------------------------------------------------------------------- TensorRT (fake)


def test_tensorrt_keys_follow_the_unet_discipline(tiny: Components) -> None:
    nets = ControlNets({"depth": tiny_controlnet(tiny, seed=1), "canny": tiny_controlnet(tiny, seed=2)})
    onnx = {name: (Path(f"{name}.onnx"), controlnet_onnx_key(tiny, nets, name)) for name in nets.names}
    keys = controlnet_trt_keys(onnx, SHAPES, "10.3.0", "sm_90")
    depth = keys["depth"]
    assert depth.backend == "tensorrt" and depth.gpu_arch == "sm_90" and depth.backend_version == "10.3.0"
    assert depth.shapes == SHAPES.as_dict() and depth.extra == {"controlnet": "depth", "onnx": onnx["depth"][1].digest,
                                                                "workspace_bytes": WORKSPACE_BYTES}
    assert keys["canny"].digest != depth.digest
    assert controlnet_trt_keys(onnx, SHAPES, "10.3.0", "sm_90")["depth"] == depth  # same inputs: same engine
    for changed in (controlnet_trt_keys(onnx, SHAPES, "10.4.0", "sm_90"), controlnet_trt_keys(onnx, SHAPES, "10.3.0",
                    "sm_89"), controlnet_trt_keys(onnx, ShapeRange.fixed(1, 64, 64), "10.3.0", "sm_90")):
        assert changed["depth"].digest != depth.digest
    # the UNet's keys are made by the same function and did not change with it
    unet_onnx = EngineKey("unet", "tiny", "abc", {"dynamic": ["batch"]}, "float32", "onnx", "2", "any", 17,
                          {"vae": "taesd", "device": "cuda"})
    assert engine_key(unet_onnx, SHAPES, "10.3.0", "sm_90") == EngineKey(
        component="unet", model="tiny", weights_hash="abc", shapes=SHAPES.as_dict(), dtype="float32",
        backend="tensorrt", backend_version="10.3.0", gpu_arch="sm_90", opset=17,
        extra={"onnx": unet_onnx.digest, "workspace_bytes": WORKSPACE_BYTES})


@pytest.mark.parametrize("family", ["tiny", "tiny_sdxl"])
def test_tensorrt_profiles_span_the_shape_range(family: str, request: pytest.FixtureRequest) -> None:
    comps = request.getfixturevalue(family)
    model = tiny_controlnet(comps, seed=1)
    profiles = controlnet_profiles(comps, model, SHAPES)
    c0 = model.controlnet_cond_embedding.conv_out.out_channels
    assert profiles["sample"] == [(1, 4, 6, 6), (2, 4, 8, 8), (8, 4, 12, 12)]
    assert profiles["cond_embedding"] == [(1, c0, 6, 6), (2, c0, 8, 8), (8, c0, 12, 12)]
    assert profiles["timestep"] == [(1,), (2,), (8,)]
    assert ("text_embeds" in profiles) == (family == "tiny_sdxl")
    graph_inputs = ["sample", "timestep", "encoder_hidden_states", "cond_embedding"]
    assert list(profiles)[:4] == graph_inputs


class _MultiEngine(FakeEngine):
    """A fake engine of several outputs (a ControlNet's residuals), computed by `compute` over the bound memory."""

    def __init__(self, inputs: list[tuple[str, torch.dtype]], outputs: list[str], compute: Any,
                 shapes: Any) -> None:
        super().__init__(inputs, (outputs[0], torch.float32), compute, lambda *_: ())
        self.names = outputs
        self.shapes_of = shapes

    @property
    def num_io_tensors(self) -> int:
        return len(self.inputs) + len(self.names)

    def _all(self) -> list[tuple[str, torch.dtype]]:
        return [*self.inputs, *((n, torch.float32) for n in self.names)]

    def get_tensor_mode(self, name: str) -> str:
        return "OUTPUT" if name in self.names else "INPUT"

    def create_execution_context(self) -> FakeContext:
        return _MultiContext(self)


class _MultiContext(FakeContext):
    engine: _MultiEngine

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        sample = self.shapes["sample"]
        return self.engine.shapes_of[name](*sample)

    def execute_async_v3(self, stream: int) -> bool:
        self.streams.append(stream)
        inputs = [tensor_at(self.addresses[n], self.shapes[n], dtype) for n, dtype in self.engine.inputs]
        for name, value in zip(self.engine.names, self.engine.compute(*inputs), strict=True):
            tensor_at(self.addresses[name], self.get_tensor_shape(name), torch.float32).copy_(value)
        return True


def test_tensorrt_controlnet_binds_inputs_and_every_residual(tiny: Components, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """trt_controlnets on a fake `tensorrt` whose engine computes the ControlNet over the addresses it was given:
    the residuals equal eager only if every input and output is bound where the engine reads and writes it."""
    from sdbridge.acceleration import controlnet_trt
    from sdbridge.acceleration.tensorrt_backend import TensorRTBackend

    nets = ControlNets({"depth": tiny_controlnet(tiny, seed=1)})
    model = nets.models["depth"]
    layout = residual_layout(model)
    module = ControlNetModule(nets, "depth", sdxl=False)
    engine = _MultiEngine([("sample", torch.float32), ("timestep", torch.int64),
                           ("encoder_hidden_states", torch.float32), ("cond_embedding", torch.float32)],
                          [r.name for r in layout], lambda *x: module(*x),
                          {r.name: (lambda b, c, h, w, r=r: r.shape(b, h, w)) for r in layout})
    trt = fake_tensorrt({b"plan": engine})
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: types.SimpleNamespace(cuda_stream=7))
    monkeypatch.setattr(TensorRTBackend, "check", lambda self, components: None)
    monkeypatch.setattr(controlnet_trt, "gpu_arch", lambda device: "sm_90")
    engines = controlnet_trt.trt_controlnets(tiny, nets, _options(tmp_path))
    assert trt.configs and list(trt.configs[0].profiles[0].shapes)[:4] == ["sample", "timestep",
                                                                            "encoder_hidden_states", "cond_embedding"]
    args = _inputs(tiny, nets, 2, 8, 8, seed=3)
    for a, b in zip(_residuals(model, args), _residuals(engines.models["depth"], args), strict=True):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)
    with pytest.raises(InputError, match=r"ControlNet 'depth': batch 9 at 64x64 is outside its TensorRT engine's "
                                         r"range"):
        engines.models["depth"](**_inputs(tiny, nets, 1, 8, 8) | {"sample": torch.randn(9, 4, 8, 8)})
    keys = [json.loads(p.read_text())["key"] for p in tmp_path.glob("*/manifest.json")]
    assert sorted(k["backend"] for k in keys) == ["onnx", "tensorrt"]
    assert next(k for k in keys if k["backend"] == "tensorrt")["extra"]["controlnet"] == "depth"
