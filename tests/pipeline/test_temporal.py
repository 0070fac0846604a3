"""Temporal coherence in the pipeline (sdbridge.pipeline.temporal): latent feedback and motion-guided warping are
bit-identical when off, Stream Batch equals sequential with them on, scene cuts and restarts reset the state,
and nothing is shared between pipelines on shared components."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sdbridge.errors import ConfigError, InputError
from sdbridge.events.rules import RulesError, parse_rules
from sdbridge.pipeline import CfgMode, StreamConfig, StreamPipeline
from tests.conftest import random_frames

T_INDEX = {1: [32], 2: [16, 45], 4: [0, 16, 32, 45]}
SIZE = 64


def _pipe(tiny, steps: int = 1, batched: bool = True, fbs: int = 1, **temporal: object) -> StreamPipeline:
    cfg = StreamConfig(width=SIZE, height=SIZE, t_index_list=T_INDEX[steps], cfg_mode=CfgMode.SELF, seed=7,
                       frame_buffer_size=fbs, use_denoising_batch=batched, **temporal)  # type: ignore[arg-type]
    pipe = StreamPipeline(tiny, cfg)
    pipe.prepare(prompt="a watercolor castle", negative_prompt="blurry")
    return pipe


def _motion(index: int) -> torch.Tensor:
    """A whole-cell pan that changes with the frame: (2, H, W) pixels, current -> previous."""
    motion = torch.zeros(2, SIZE, SIZE)
    motion[0], motion[1] = 8.0 * (index % 3 - 1), 8.0 * (index % 2)
    return motion


def _run(pipe: StreamPipeline, frames: list[np.ndarray], motion: bool = False) -> list[torch.Tensor]:
    out = []
    for i, frame in enumerate(frames):
        if motion:
            pipe.temporal.set_motion(_motion(i))
        result = pipe(frame)
        assert result.latents is not None
        out.append(result.latents)
    return out


def test_strength_zero_is_bit_identical_and_on_is_not(tiny) -> None:
    frames = random_frames(5, seed=3)
    reference = _run(_pipe(tiny, steps=2), frames)
    off = _run(_pipe(tiny, steps=2, latent_feedback=0.0, motion_warp=0.0, scene_cut_threshold=0.0), frames,
               motion=True)
    assert all(torch.equal(a, b) for a, b in zip(reference, off, strict=True))
    # the comparison can fail: either method on changes a frame once a source exists (the n-th frame on)
    fed = _run(_pipe(tiny, steps=2, latent_feedback=0.3, scene_cut_threshold=0.0), frames)
    warped = _run(_pipe(tiny, steps=2, motion_warp=0.5, scene_cut_threshold=0.0), frames, motion=True)
    for changed in (fed, warped):
        assert torch.equal(changed[1], reference[1])  # frame 0's output is still warm-up lag: no source yet
        assert (changed[-1] - reference[-1]).abs().max() > 1e-3


@pytest.mark.parametrize("fbs", [1, 2])
@pytest.mark.parametrize("steps", [1, 2, 4])
def test_stream_batch_equals_sequential_with_latent_feedback(tiny, steps: int, fbs: int) -> None:
    _batch_equals_sequential(tiny, steps, fbs, dict(latent_feedback=0.4), motion=False)


@pytest.mark.parametrize(("steps", "warp_step"), [(1, 0), (2, 0), (2, 49), (4, 1), (4, 49)])
def test_stream_batch_equals_sequential_with_motion_warping(tiny, steps: int, warp_step: int) -> None:
    _batch_equals_sequential(tiny, steps, 1, dict(motion_warp=0.7, motion_warp_step=warp_step, latent_feedback=0.2),
                             motion=True)


def _batch_equals_sequential(tiny, steps: int, fbs: int, temporal: dict, motion: bool) -> None:
    frames = random_frames(3 + 2 * steps, batch=fbs if fbs > 1 else None, seed=steps * 10 + fbs)
    settings = dict(temporal, scene_cut_threshold=0.0)
    sequential = _run(_pipe(tiny, steps, False, fbs, **settings), frames, motion)
    batched = _run(_pipe(tiny, steps, True, fbs, **settings), frames, motion)
    plain = _run(_pipe(tiny, steps, False, fbs), frames)
    lag = steps - 1
    for k in range(len(frames) - lag):
        torch.testing.assert_close(batched[k + lag], sequential[k], atol=1e-4, rtol=1e-5)
    assert (sequential[-1] - plain[-1]).abs().max() > 1e-3  # the method acted on the compared frames


def test_zero_motion_warping_at_step_zero_equals_latent_feedback(tiny) -> None:
    """Both blend the output of frame f - n into frame f's step-0 latent (RCFG off: the reference is unused)."""
    frames = random_frames(4, seed=5)

    def make(**temporal: object) -> StreamPipeline:
        cfg = StreamConfig(width=SIZE, height=SIZE, t_index_list=[32], seed=7, scene_cut_threshold=0.0,
                           **temporal)  # type: ignore[arg-type]
        pipe = StreamPipeline(tiny, cfg)
        pipe.prepare(prompt="a castle")
        return pipe

    warp = make(motion_warp=0.5)
    warped = []
    for frame in frames:
        warp.temporal.set_motion(torch.zeros(2, SIZE, SIZE))
        warped.append(warp(frame).latents)
    feedback = make(latent_feedback=0.5)
    fed = [feedback(f).latents for f in frames]
    for a, b in zip(warped, fed, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-5)


def test_an_explicit_scene_cut_drops_the_earlier_outputs(tiny) -> None:
    frames = random_frames(4, seed=9)
    fresh = _run(_pipe(tiny, latent_feedback=0.5, scene_cut_threshold=0.0), frames[3:])[0]
    pipe = _pipe(tiny, latent_feedback=0.5, scene_cut_threshold=0.0)
    _run(pipe, frames[:3])
    uncut = _pipe(tiny, latent_feedback=0.5, scene_cut_threshold=0.0)
    assert not torch.equal(_run(uncut, frames)[3], fresh)  # without the cut, frame 3 takes frame 2's output
    pipe.scene_cut()
    assert torch.equal(_run(pipe, frames[3:])[0], fresh)


def test_a_scene_cut_during_stream_batch_ignores_the_outputs_in_flight(tiny) -> None:
    frames = random_frames(7, seed=11)
    pipe, plain = _pipe(tiny, steps=2, latent_feedback=0.5, scene_cut_threshold=0.0), _pipe(tiny, steps=2)
    for frame in frames[:3]:
        pipe(frame), plain(frame)
    pipe.scene_cut()
    # results of calls 3..6: the outputs of frames 2..5 (Stream Batch lags one call). Frames 3 and 4 would take the
    # outputs of frames 1 and 2 (frame 2's was still in flight at the cut): both are before it, so neither is used
    got = [pipe(f).latents for f in frames[3:]]
    want = [plain(f).latents for f in frames[3:]]
    for k in (1, 2):
        torch.testing.assert_close(got[k], want[k], atol=1e-5, rtol=1e-6)
    assert (got[3] - want[3]).abs().max() > 1e-3  # frame 5 takes frame 3's output, after the cut


def test_a_detected_cut_gates_the_feedback(tiny) -> None:
    uncorrelated = random_frames(5, seed=13)  # independent noise: correlation ~0, below 0.9
    plain = _run(_pipe(tiny), uncorrelated)
    gated = _run(_pipe(tiny, latent_feedback=0.5, scene_cut_threshold=0.9), uncorrelated)
    assert all(torch.equal(a, b) for a, b in zip(plain, gated, strict=True))
    base = uncorrelated[0].astype(np.int16)  # a slowly changing frame: correlation ~1, above 0.9
    similar = [np.clip(base + 3 * i, 0, 255).astype(np.uint8) for i in range(5)]
    plain = _run(_pipe(tiny), similar)
    fed = _run(_pipe(tiny, latent_feedback=0.5, scene_cut_threshold=0.9), similar)
    assert (fed[-1] - plain[-1]).abs().max() > 1e-3


def test_a_restart_resets_the_temporal_state(tiny) -> None:
    frames = random_frames(4, seed=15)
    pipe = _pipe(tiny, steps=2, latent_feedback=0.5, scene_cut_threshold=0.0)
    _run(pipe, frames)
    assert pipe.temporal.held > 0
    pipe.update(t_index_list=[32])  # a different number of steps: the stream restarts
    assert pipe.temporal.held == 0
    assert torch.equal(_run(pipe, frames[:1])[0], _run(_pipe(tiny, latent_feedback=0.5), frames[:1])[0])


def test_memory_stays_bounded(tiny) -> None:
    pipe = _pipe(tiny, steps=2, latent_feedback=0.3, motion_warp=0.5, scene_cut_threshold=0.0)
    frames = random_frames(12, seed=17)
    _run(pipe, frames, motion=True)
    assert 0 < pipe.temporal.held <= 2 * (2 + 1)


def test_nothing_is_shared_between_pipelines_on_shared_components(tiny) -> None:
    frames_a, frames_b = random_frames(5, seed=19), random_frames(5, seed=21)
    alone = _run(_pipe(tiny, steps=2, latent_feedback=0.5, motion_warp=0.5, scene_cut_threshold=0.0), frames_b,
                 motion=True)
    a = _pipe(tiny, steps=2, latent_feedback=0.5, motion_warp=0.5, scene_cut_threshold=0.0)
    b = _pipe(tiny, steps=2, latent_feedback=0.5, motion_warp=0.5, scene_cut_threshold=0.0)
    got = []
    for i, (fa, fb) in enumerate(zip(frames_a, frames_b, strict=True)):
        a.temporal.set_motion(_motion(i + 1))
        a(fa)
        if i == 2:
            a.scene_cut()
        b.temporal.set_motion(_motion(i))
        got.append(b(fb).latents)
    assert all(torch.equal(x, y) for x, y in zip(got, alone, strict=True))


def test_warping_needs_one_frame_per_call_and_motion_of_the_frame_size(tiny) -> None:
    with pytest.raises(ConfigError, match=r"motion_warp=0.5 needs frame_buffer_size=1"):
        StreamConfig(width=SIZE, height=SIZE, motion_warp=0.5, frame_buffer_size=2)
    with pytest.raises(ConfigError, match=r"latent_feedback=0.7 must be a number in \[0, 0.5\]"):
        StreamConfig(latent_feedback=0.7)
    pipe = _pipe(tiny, motion_warp=0.5)
    with pytest.raises(InputError, match=r"depth has shape \(1, 1, 32, 32\); expected \(1, 1, H, W\) with the "
                                         r"motion's H, W \(64, 64\)"):
        pipe.temporal.set_motion(torch.zeros(2, SIZE, SIZE), depth=torch.ones(32, 32))
    pipe.temporal.set_motion(torch.zeros(2, 60, 60))
    with pytest.raises(InputError, match="multiple of the VAE factor"):
        pipe(random_frames(1)[0])


def test_rules_files_set_the_temporal_knobs_within_the_registry_ranges() -> None:
    head = 'version = 1\n[prompt]\ntemplate = "a city"\n[params]\n'
    rules = parse_rules(head + "latent_feedback = 0.3\nmotion_warp = 0.5\nmotion_warp_step = 1\n"
                               "scene_cut_threshold = 0.8\n", "r.toml")
    assert dict(rules.params) == {"latent_feedback": 0.3, "motion_warp": 0.5, "motion_warp_step": 1,
                                  "scene_cut_threshold": 0.8}
    with pytest.raises(RulesError, match=r"r.toml:5: params.latent_feedback: latent_feedback=0.7 must be a number "
                                         r"in \[0, 0.5\]"):
        parse_rules(head + "latent_feedback = 0.7\n", "r.toml")


@pytest.mark.parametrize("deliberate_sync", [False, True])
def test_temporal_frames_do_not_read_device_values_on_the_host(tiny, monkeypatch, deliberate_sync: bool) -> None:
    """Feedback, warping and the cut test on: no scalar read or float64 op per steady-state frame (the counter of
    test_no_host_sync.py); a warp that reads a scalar is caught, so the counter sees the temporal code."""
    from sdbridge.pipeline import temporal_warp
    from tests.pipeline.test_no_host_sync import assert_steady_state_reads

    if deliberate_sync:
        warp = temporal_warp.warp
        monkeypatch.setattr(temporal_warp, "warp", lambda src, flow: (float(flow.sum()), warp(src, flow))[1])
    pipe = _pipe(tiny, steps=2, latent_feedback=0.3, motion_warp=0.5, scene_cut_threshold=0.5)
    base = random_frames(1, seed=23)[0].astype(np.int16)
    frames = [np.clip(base + 2 * i, 0, 255).astype(np.uint8) for i in range(7)]
    assert_steady_state_reads(pipe, frames, deliberate_sync, before_frame=lambda i: pipe.temporal.set_motion(
        _motion(i), depth=torch.full((SIZE, SIZE), 5.0)))


def test_the_motions_of_skipped_frames_are_composed_into_the_next_staged_frame() -> None:
    """Two one-cell motions set before one staged frame (the first frame was skipped) warp like one two-cell motion."""
    from sdbridge.pipeline.temporal import TemporalState

    cfg = StreamConfig(width=SIZE, height=SIZE, t_index_list=[32], use_denoising_batch=False, motion_warp=1.0,
                       scene_cut_threshold=0.0)
    latent = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    frames = torch.zeros(1, 3, SIZE, SIZE)
    one, two = torch.zeros(2, SIZE, SIZE), torch.zeros(2, SIZE, SIZE)
    one[0], two[0] = 8.0, 16.0

    def warped(*motions: torch.Tensor) -> torch.Tensor:
        state = TemporalState(8, torch.device("cpu"))
        state.stage(latent, frames, 0, cfg)
        state.record_output(latent, 0, cfg)
        for motion in motions:
            state.set_motion(motion)
        state.stage(latent, frames, 1, cfg)
        zeros, ones = torch.zeros(1, 4, 8, 8), torch.ones(1, 1, 1, 1)
        return state.warp_step(zeros, 0, 1, zeros, ones, ones * 0, cfg)  # alpha 1, beta 0: the warped output

    assert torch.equal(warped(one, one)[..., :6], latent[..., 2:])
    assert torch.equal(warped(one, one), warped(two))
    assert not torch.equal(warped(one), warped(two))  # the test can fail: one hop is not two
