"""Live LoRAs (--lora SOURCE=SCALE:live): a LoRA made with peft on the tiny UNet, saved as safetensors, loaded
unfused; its weight (StreamConfig.lora_weights, the registry's `lora_weights`) changes the output between frames,
weight 0 gives exactly the model without the LoRA, a weight w gives what the LoRA fused at w gives, and sessions
with different weights share one UNet without seeing each other's."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sdbridge.config import Accel, LoraSpec, ModelConfig, ServerConfig, parse_lora, with_overrides
from sdbridge.config import ConfigError as ConfigConfigError
from sdbridge.errors import ConfigError
from sdbridge.pipeline import CfgMode, StreamConfig, StreamPipeline, load_components
from sdbridge.pipeline.presets import build_preset
from sdbridge.pipeline.shared_batch import can_share
from tests.conftest import random_frames
from tests.pipeline.test_loading import save_diffusers_folder

peft = pytest.importorskip("peft", reason="peft is in the [dev] extra")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(tiny model folder, LoRA .safetensors file made with peft on that UNet)."""
    from diffusers import StableDiffusionPipeline

    root = tmp_path_factory.mktemp("live")
    folder = save_diffusers_folder("tiny", root / "model")
    unet = build_preset("tiny")["unet"]
    with torch.random.fork_rng():
        torch.manual_seed(1)
        unet.add_adapter(peft.LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"],
                                         init_lora_weights=False))
    StableDiffusionPipeline.save_lora_weights(root / "lora", unet_lora_layers=peft.get_peft_model_state_dict(unet),
                                              safe_serialization=True)
    return str(folder), str(root / "lora" / "pytorch_lora_weights.safetensors")


def _latents(pipe: StreamPipeline, frames: list) -> torch.Tensor:
    out = [pipe(f) for f in frames][-1]
    assert out.latents is not None
    return out.latents


def _pipe(comps, **config) -> StreamPipeline:
    pipe = StreamPipeline(comps, StreamConfig(width=64, height=64, t_index_list=(16, 45), cfg_mode=CfgMode.NONE,
                                              **config))
    pipe.prepare(prompt="a castle")
    return pipe


@pytest.fixture(scope="module")
def live(model: tuple[str, str]):
    folder, lora = model
    return load_components(folder, vae="full", live_lora={"style": (lora, 1.0)}, local_files_only=True)


def test_a_live_lora_stays_unfused_and_its_weight_changes_the_output(live, model) -> None:
    folder, _ = model
    assert live.live_loras is not None and live.live_loras.names == ("style",)
    assert any("lora" in n for n, _ in live.unet.named_parameters())  # adapters, not fused weights
    plain = load_components(folder, vae="full", local_files_only=True)
    frames = random_frames(3)
    without = _latents(_pipe(plain), frames)
    at_zero = _latents(_pipe(live, lora_weights=(("style", 0.0),)), frames)
    at_one = _latents(_pipe(live), frames)  # the starting weight, 1.0
    assert torch.equal(at_zero, without)  # weight 0 adds exactly nothing
    assert (at_one - without).abs().max() > 1e-3
    pipe = _pipe(live, lora_weights=(("style", 0.0),))
    first = _latents(pipe, frames)
    pipe.update(lora_weights=[("style", 1.0)])  # between frames, no restart
    assert torch.allclose(_latents(pipe, frames), at_one)
    assert torch.equal(first, without)


def test_a_live_weight_gives_what_the_fused_lora_gives(live, model) -> None:
    folder, lora = model
    fused = load_components(folder, vae="full", lora={lora: 0.5}, local_files_only=True)
    frames = random_frames(3)
    torch.testing.assert_close(_latents(_pipe(live, lora_weights=(("style", 0.5),)), frames),
                               _latents(_pipe(fused), frames), atol=1e-4, rtol=1e-4)


def test_sessions_with_different_weights_share_the_unet_without_mixing(live) -> None:
    frames = random_frames(3)
    alone_a = _latents(_pipe(live, lora_weights=(("style", 0.0),)), frames)
    alone_b = _latents(_pipe(live, lora_weights=(("style", 1.5),)), frames)
    a, b = _pipe(live, lora_weights=(("style", 0.0),)), _pipe(live, lora_weights=(("style", 1.5),))
    for frame in frames:  # interleaved frames: each call sets its own weights on the shared UNet
        out_a, out_b = a(frame), b(frame)
    assert torch.equal(out_a.latents, alone_a) and torch.equal(out_b.latents, alone_b)
    assert not can_share(a, b)  # one merged UNet call cannot run two sets of weights
    assert can_share(a, _pipe(live, lora_weights=(("style", 0.0),)))
    assert can_share(_pipe(live), _pipe(live, lora_weights=(("style", 1.0),)))  # the start, said or not


def test_the_scales_are_set_only_when_they_change(live) -> None:
    pipe = _pipe(live, lora_weights=(("style", 0.25),))
    frames = random_frames(2)
    pipe(frames[0])
    before = live.live_loras.applies
    pipe(frames[1])
    assert live.live_loras.applies == before  # same weights: diffusers' set_adapters is not called again
    pipe.update(lora_weights=[("style", 0.75)])
    pipe(frames[0])
    assert live.live_loras.applies == before + 1


@pytest.mark.parametrize(("weights", "message"), [
    ([("style", 3.0)], r"lora_weights\[0\] style=3.0 must be a number in \[-2, 2\]"),
    ([("style", float("nan"))], r"lora_weights\[0\] style=nan must be a number in \[-2, 2\]"),
    ([("other", 0.5)], r"lora_weights names 'other', which is no live LoRA of this model; live LoRAs: style"),
    ([("style", 0.5), ("style", 1.0)], r"lora_weights names 'style' twice"),
])
def test_a_bad_weight_names_the_parameter_the_value_and_the_range(live, weights, message) -> None:
    pipe = _pipe(live)
    with pytest.raises(ConfigError, match=message):
        pipe.update(lora_weights=weights)
    assert pipe.config.lora_weights == ()  # refused: the pipeline keeps its weights


def test_weights_for_a_model_without_live_loras_are_refused(model) -> None:
    plain = load_components(model[0], vae="full", local_files_only=True)
    with pytest.raises(ConfigError, match=r"lora_weights names 'style', but this model has no live LoRA; start "
                                          r"the server with --lora SOURCE=SCALE:live"):
        _pipe(plain, lora_weights=(("style", 1.0),))


def test_a_lora_for_another_model_is_refused_by_name(model, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from sdbridge.errors import ModelNotFoundError

    stray = tmp_path / "stray.safetensors"
    save_file({"unet.nowhere.lora_A.weight": torch.zeros(4, 8), "unet.nowhere.lora_B.weight": torch.zeros(8, 4)},
              str(stray))
    with pytest.raises(ModelNotFoundError, match=r"live LoRA 'stray' .*has no layer of this model's UNet"):
        load_components(model[0], vae="full", live_lora={"stray": (str(stray), 1.0)}, local_files_only=True)


# ------------------------------------------------------------------------------------------- --lora ...:live
def test_live_suffix_parses_with_and_without_scale() -> None:
    assert parse_lora("acme/pixel-art=0.8:live", "--lora") == LoraSpec("acme/pixel-art", 0.8, True)
    assert parse_lora("/loras/Detail v2.safetensors:live", "--lora").adapter == "Detail_v2"
    assert parse_lora("acme/pixel-art=0.8", "--lora") == LoraSpec("acme/pixel-art", 0.8, False)
    cfg = ModelConfig(name="/m", lora=("acme/a=0.5", "acme/pixel-art=0.8:live"))
    assert cfg.loras() == {"acme/a": 0.5} and cfg.live_loras() == {"pixel-art": ("acme/pixel-art", 0.8)}


@pytest.mark.parametrize(("lora", "message"), [
    (("acme/a=3:live",), r"model\.lora\[0\]='acme/a=3:live': a live LoRA's scale is its starting weight; 3 is "
                         r"outside the lora_weights range \[-2, 2\]"),
    (("acme/a:live", "other/a=0.5:live"), r"model\.lora: two live LoRAs are both named 'a'"),
    (("acme/a=x:live",), r"model\.lora\[0\]='acme/a=x:live' is not SOURCE\[=SCALE\]\[:live\]"),
])
def test_bad_live_entries_name_the_key_the_value_and_the_fix(lora: tuple[str, ...], message: str) -> None:
    with pytest.raises(ConfigConfigError, match=message):
        ModelConfig(lora=lora)


def test_live_loras_need_the_eager_backend() -> None:
    with pytest.raises(ConfigConfigError, match=r"live LoRAs \(':live'\), which need accel\.backend=eager"):
        with_overrides(ServerConfig(), model={"lora": ("acme/a:live",)}, accel={"backend": Accel.COMPILE})


# ------------------------------------------------------------------------------------------- over the wire
def test_params_lora_weights_reach_the_session_pipeline_or_are_refused_by_name(live) -> None:
    """A client's Params.lora_weights (protocol 1.2) through a real server: out of range refused at once naming
    the field, the value and the range; accepted ones set the session pipeline's weights before its next frame;
    an adapter the model lacks is refused naming the live ones."""
    from sdbridge.protocol import messages as m
    from sdbridge.served_model import factory_from_components
    from sdbridge.server import BridgeServer
    from tests.reliability.test_budgets import frame, only_session, peers

    cfg = with_overrides(ServerConfig(), model={"name": "tiny", "width": 64, "height": 64},
                         limits={"max_width": 64, "max_height": 64},
                         session={"heartbeat_timeout_s": 120.0}, top={"bind": "tcp://127.0.0.1:*"})
    factory, description = factory_from_components(live, cfg)
    server = BridgeServer(cfg, factory, description)
    server.start_in_thread()
    try:
        with peers(server) as (peer,):
            error = peer.error_for(m.Params(lora_weights=(m.AdapterWeight("style", 3.0),)))
            assert error.field == "Params.lora_weights[0].weight"
            assert "lora_weights[0] style=3.0 must be a number in [-2, 2]" in error.message
            peer.accepted(m.Params(lora_weights=(m.AdapterWeight("style", 0.25),)))
            peer.send(*frame(1))
            peer.until(m.ResultHeader, timeout_ms=60000)
            assert only_session(server).pipeline.config.lora_weights == (("style", 0.25),)
            peer.send(m.Params(lora_weights=(m.AdapterWeight("other", 1.0),)))
            peer.send(*frame(2))
            seen = peer.until(m.ResultHeader, timeout_ms=60000)
            errors = [s for s in seen if isinstance(s, m.ErrorMsg)]
            assert errors and "'other', which is no live LoRA of this model; live LoRAs: style" in errors[0].message
            assert only_session(server).pipeline.config.lora_weights == (("style", 0.25),)  # kept
    finally:
        server.close()


def test_live_loras_without_peft_say_what_to_install(model, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real(name, *a))
    with pytest.raises(ConfigError, match=r"live LoRAs \(style\) need peft.*pip install 'peft>=0\.10'"):
        load_components(model[0], vae="full", live_lora={"style": (model[1], 1.0)}, local_files_only=True)
