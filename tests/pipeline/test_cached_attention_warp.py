"""The cached-attention bank warped with the engine's motion (`attention_bank_warp`, sdbridge.pipeline.bank_warp):
zero motion leaves the bank identical, a whole-token translation shifts banked tokens exactly away from the borders
(and masks the tokens whose source left the grid), off is bit-identical to the unwarped bank, Stream Batch equals
sequential with it on, nothing is shared between pipelines, a scene cut clears it, the knob is in the registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sdbridge.errors import ConfigError
from sdbridge.events.rules import parse_rules
from sdbridge.pipeline import CfgMode, StreamConfig, StreamPipeline, bank_warp, load_components
from tests.conftest import random_frames

SIZE = 64  # the tiny model's latent grid is 8 x 8; its self-attention layers run at 8 x 8 and 4 x 4 tokens
T_INDEX = {1: [32], 2: [16, 45]}


@pytest.fixture(scope="module")
def tiny64():
    """float64 tiny components: Stream Batch and sequential then agree to 1e-10 (see test_cached_attention.py)."""
    return load_components("tiny", device="cpu", dtype=torch.float64)


def _pipe(components, steps: int = 1, batched: bool = False, **settings: object) -> StreamPipeline:
    settings.setdefault("scene_cut_threshold", 0.0)  # random frames would all be detected cuts
    settings.setdefault("cfg_mode", CfgMode.SELF)
    cfg = StreamConfig(width=SIZE, height=SIZE, t_index_list=T_INDEX[steps], seed=7, use_denoising_batch=batched,
                       **settings)  # type: ignore[arg-type]
    pipe = StreamPipeline(components, cfg)
    pipe.prepare(prompt="a watercolor castle", negative_prompt="blurry")
    return pipe


def _motion(dx: float, dy: float = 0.0) -> torch.Tensor:
    """A uniform motion (2, SIZE, SIZE) in pixels, current -> previous."""
    motion = torch.zeros(2, SIZE, SIZE)
    motion[0], motion[1] = dx, dy
    return motion


def _run(pipe: StreamPipeline, frames: list[np.ndarray], motion: torch.Tensor | None = None) -> list[torch.Tensor]:
    out = []
    for frame in frames:
        if motion is not None:
            pipe.temporal.set_motion(motion)
        result = pipe(frame)
        assert result.latents is not None
        out.append(result.latents.clone())
    return out


def _layers(pipe: StreamPipeline) -> list[str]:
    """The banked layers: every self-attention processor's name (attention_bank_blocks "all")."""
    return [name for name in pipe.components.unet.attn_processors if name.endswith("attn1.processor")]


def test_token_grid_halves_the_latent_grid_rounding_up() -> None:
    assert bank_warp.token_grid(8, 8, 64) == (8, 8)
    assert bank_warp.token_grid(8, 8, 16) == (4, 4)
    assert bank_warp.token_grid(5, 7, 12) == (3, 4)  # ceil(5 / 2) x ceil(7 / 2), as a stride-2 convolution
    assert bank_warp.token_grid(8, 8, 15) is None  # no halving gives 15 tokens: read unwarped


def test_a_whole_token_translation_shifts_keys_and_values_exactly_and_masks_what_left_the_grid() -> None:
    gen = torch.Generator().manual_seed(0)
    key, value = torch.randn(2, 6 * 5, 3, generator=gen), torch.randn(2, 6 * 5, 3, generator=gen)
    flow = torch.zeros(1, 2, 6, 5)
    flow[:, 0], flow[:, 1] = 2.0, -1.0  # each token's surface was 2 tokens right and 1 up in the banked frame
    keep = torch.ones(1, 1, 6, 5)
    keep[..., 4, 0] = 0  # one disoccluded token
    k, v, mask = bank_warp.warp_tokens(key, value, flow, keep)
    grid = {name: t.view(2, 6, 5, 3) for name, t in (("k", k), ("v", v), ("key", key), ("value", value))}
    assert torch.equal(grid["k"][:, 1:, :3], grid["key"][:, :5, 2:])  # away from the borders: exact
    assert torch.equal(grid["v"][:, 1:, :3], grid["value"][:, :5, 2:])
    expected = torch.zeros(6, 5)
    expected[1:, :3] = 1  # sources inside the grid
    expected[4, 0] = 0
    assert torch.equal(mask.view(6, 5), expected)


def test_resample_scales_the_flow_to_tokens_and_keeps_a_token_only_when_all_its_cells_are() -> None:
    flow = torch.zeros(1, 2, 8, 8)
    flow[:, 0], flow[:, 1] = 4.0, -2.0
    keep = torch.ones(1, 1, 8, 8)
    keep[..., 3, 5] = 0
    moved, kept = bank_warp.resample(flow, keep, 4, 4)
    assert torch.equal(moved[0, 0], torch.full((4, 4), 2.0)) and torch.equal(moved[0, 1], torch.full((4, 4), -1.0))
    assert kept[0, 0, 1, 2] == 0 and kept.sum() == 15


def test_zero_motion_leaves_the_bank_identical(tiny64) -> None:
    frames = random_frames(4, seed=31)
    pipe = _pipe(tiny64, attention_bank=3, attention_bank_warp=True)
    _run(pipe, frames, _motion(0.0))
    assert pipe.temporal.bank.motion.held > 0
    unwarped = pipe.config.replace(attention_bank_warp=False)
    for layer in _layers(pipe):  # frame 3 (the last staged) reading frames 1 and 2
        warped, plain = (pipe.temporal.bank.view(layer, 0, 3, cfg) for cfg in (pipe.config, unwarped))
        assert warped.frames == plain.frames and len(warped.frames) == 2
        assert all(torch.equal(a, b) for a, b in zip(warped.keys + warped.values, plain.keys + plain.values,
                                                      strict=True))
        assert all(k is not None and bool((k == 1).all()) for k in warped.keeps)


def test_a_known_translation_shifts_the_banked_tokens_by_the_motion_accumulated_since_banking(tiny64) -> None:
    frames = random_frames(4, seed=32)
    pipe = _pipe(tiny64, attention_bank=4, attention_bank_warp=True)
    _run(pipe, frames, _motion(16.0))  # 2 latent cells a frame: 2 tokens at 8 x 8, 1 at 4 x 4
    unwarped = pipe.config.replace(attention_bank_warp=False)
    checked = 0
    for layer in _layers(pipe):
        warped, plain = (pipe.temporal.bank.view(layer, 0, 3, cfg) for cfg in (pipe.config, unwarped))
        assert warped.frames == (0, 1, 2)
        for frame, k, v, key, value, keep in zip(warped.frames, warped.keys, warped.values, plain.keys,
                                                 plain.values, warped.keeps, strict=True):
            side = int(key.shape[1] ** 0.5)
            if (3 - frame) * 2 * side % 8:
                continue  # not a whole number of tokens at this layer's grid
            shift = (3 - frame) * 2 * side // 8  # tokens accumulated since the frame was banked
            grid = [t.reshape(t.shape[0], side, side, -1) for t in (k, v, key, value)]
            assert torch.equal(grid[0][:, :, :side - shift], grid[2][:, :, shift:])
            assert torch.equal(grid[1][:, :, :side - shift], grid[3][:, :, shift:])
            assert keep is not None
            assert bool((keep.view(side, side)[:, :side - shift] == 1).all())
            assert not bool(keep.view(side, side)[:, side - shift:].any())
            checked += 1
    assert checked >= 4


def test_off_is_the_unwarped_bank_and_on_changes_the_output(tiny64) -> None:
    frames = random_frames(4, seed=33)
    no_motion = _run(_pipe(tiny64, attention_bank=2), frames)
    off = _pipe(tiny64, attention_bank=2)
    assert all(torch.equal(a, b) for a, b in zip(_run(off, frames, _motion(16.0)), no_motion, strict=True))
    assert off.temporal.bank.motion.held == 0  # off: no motion kept
    on = _run(_pipe(tiny64, attention_bank=2, attention_bank_warp=True), frames, _motion(16.0))
    assert torch.equal(on[0], no_motion[0])  # nothing banked before frame 0
    assert (on[-1] - no_motion[-1]).abs().max() > 1e-6  # the comparison can fail: the warp acts


@pytest.mark.parametrize("cfg_mode", [CfgMode.SELF, CfgMode.FULL])
def test_stream_batch_equals_sequential_with_the_warped_bank(tiny64, cfg_mode: CfgMode) -> None:
    frames = random_frames(6, seed=34)
    on = {"attention_bank": 2, "attention_bank_warp": True, "cfg_mode": cfg_mode}
    motion = _motion(8.0, -8.0)
    sequential = _run(_pipe(tiny64, 2, False, **on), frames, motion)
    batched = _run(_pipe(tiny64, 2, True, **on), frames, motion)
    unwarped = _run(_pipe(tiny64, 2, False, **dict(on, attention_bank_warp=False)), frames, motion)
    for k in range(len(frames) - 1):
        torch.testing.assert_close(batched[k + 1], sequential[k], atol=1e-10, rtol=1e-10)
    assert (sequential[-1] - unwarped[-1]).abs().max() > 1e-6  # the warp acted on the compared frames


def test_pipelines_keep_their_own_motion(tiny64) -> None:
    a_frames, b_frames = random_frames(4, seed=35), random_frames(4, seed=36)
    alone_b = _run(_pipe(tiny64, attention_bank=2, attention_bank_warp=True), b_frames, _motion(8.0))
    a, b = (_pipe(tiny64, attention_bank=2, attention_bank_warp=True) for _ in range(2))
    got_a, got_b = [], []
    for fa, fb in zip(a_frames, b_frames, strict=True):  # interleaved on the shared UNet, different motions
        got_a += _run(a, [fa], _motion(-16.0, 8.0))
        got_b += _run(b, [fb], _motion(8.0))
    assert all(torch.equal(x, y) for x, y in zip(got_b, alone_b, strict=True))
    assert a.temporal.bank.motion is not b.temporal.bank.motion
    moved_differently = _run(_pipe(tiny64, attention_bank=2, attention_bank_warp=True), b_frames, _motion(-16.0, 8.0))
    assert not torch.equal(moved_differently[-1], alone_b[-1])  # b's output depends on the motion it is given


def test_a_scene_cut_clears_the_motion_and_the_next_frames_match_a_fresh_stream(tiny64) -> None:
    frames = random_frames(6, seed=37)
    settings = {"attention_bank": 2, "attention_bank_warp": True}
    fresh = _run(_pipe(tiny64, **settings), frames[3:], _motion(8.0))
    pipe = _pipe(tiny64, **settings)
    _run(pipe, frames[:3], _motion(-8.0))
    assert pipe.temporal.bank.motion.held > 0
    pipe.scene_cut()
    assert pipe.temporal.bank.motion.held == 0 and pipe.temporal.bank.held == 0
    after = _run(pipe, frames[3:], _motion(8.0))
    assert all(torch.equal(a, b) for a, b in zip(after, fresh, strict=True))


def test_the_knob_is_in_the_registry_and_needs_one_frame_per_call() -> None:
    with pytest.raises(ConfigError, match="attention_bank_warp=True needs frame_buffer_size=1"):
        StreamConfig(attention_bank=2, attention_bank_warp=True, frame_buffer_size=2)
    StreamConfig(attention_bank=0, attention_bank_warp=True, frame_buffer_size=2)  # no bank: nothing to warp
    with pytest.raises(ConfigError, match="attention_bank_warp"):
        StreamConfig(attention_bank_warp=1)  # type: ignore[arg-type]
    rules = parse_rules('version = 1\n[prompt]\ntemplate = "a city"\n[params]\nattention_bank_warp = true\n', "r.toml")
    assert dict(rules.params) == {"attention_bank_warp": True}


def test_the_knob_is_live(tiny64) -> None:
    frames = random_frames(4, seed=38)
    pipe = _pipe(tiny64, attention_bank=2)
    _run(pipe, frames[:2], _motion(8.0))
    assert pipe.temporal.bank.motion.held == 0
    pipe.update(attention_bank_warp=True)
    _run(pipe, frames[2:], _motion(8.0))
    assert pipe.temporal.bank.motion.held == 2
    pipe.update(attention_bank_warp=False)
    _run(pipe, frames[:1], _motion(8.0))
    assert pipe.temporal.bank.motion.held == 0


@pytest.mark.parametrize("deliberate_sync", [False, True])
def test_the_warped_bank_reads_no_device_values_on_the_host(tiny, monkeypatch, deliberate_sync: bool) -> None:
    """Bank warping on with motion every frame: no scalar read or float64 op per steady-state frame (the counter of
    test_no_host_sync.py); a warp that reads a scalar is caught, so the counter sees the warp's code."""
    from sdbridge.pipeline import cached_attention
    from tests.pipeline.test_no_host_sync import assert_steady_state_reads

    if deliberate_sync:
        warp = cached_attention.warp_tokens
        monkeypatch.setattr(cached_attention, "warp_tokens", lambda key, *a: (float(key.sum()), warp(key, *a))[1])
    pipe = _pipe(tiny, attention_bank=2, attention_bank_warp=True, scene_cut_threshold=0.5)
    base = random_frames(1, seed=39)[0].astype(np.int16)
    frames = [np.clip(base + 2 * i, 0, 255).astype(np.uint8) for i in range(6)]  # correlated: no detected cut
    assert_steady_state_reads(pipe, frames, deliberate_sync,
                              before_frame=lambda i: pipe.temporal.set_motion(_motion(8.0, 8.0)))
