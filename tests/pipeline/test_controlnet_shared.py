"""ControlNet in a shared UNet batch (sdbridge.pipeline.shared_batch): the pipelines' control inputs are
concatenated and their ControlNet runs once per round, each sample at its own pipeline's settings; pipelines
with different ControlNet models do not share."""

from __future__ import annotations

import pytest
import torch

from sdbridge.errors import ConfigError
from sdbridge.pipeline import CfgMode, StreamConfig, StreamPipeline
from sdbridge.pipeline.controlnet import ControlNets, tiny_controlnet
from sdbridge.pipeline.shared_batch import can_share, run_shared
from tests.conftest import random_frames

SETUPS = [  # each pipeline with its own mode, steps, seed and ControlNet settings
    dict(cfg_mode=CfgMode.SELF, t_index_list=(16, 45), seed=1),
    dict(cfg_mode=CfgMode.FULL, t_index_list=(10, 20, 30), seed=2, controlnet_scale=(("depth", 0.5),),
         controlnet_start=(("depth", 0.3),)),
    dict(cfg_mode=CfgMode.NONE, t_index_list=(32,), seed=3, controlnet_scale=(("depth", 0.0),)),
]


@pytest.fixture(scope="module")
def nets(tiny) -> ControlNets:
    return ControlNets({"depth": tiny_controlnet(tiny, seed=2)})


def _pipes(comps, nets, setups=SETUPS):
    pipes = []
    for k, changes in enumerate(setups):
        pipe = StreamPipeline(comps, StreamConfig(width=64, height=64, guidance_scale=1.5, **changes), nets)
        pipe.prepare(prompt=f"prompt {k}", negative_prompt="blurry")
        pipes.append(pipe)
    return pipes


def test_shared_call_with_controlnet_equals_separate_calls(tiny, nets):
    calls = []
    hook = nets.models["depth"].register_forward_hook(lambda _m, inputs, _out: calls.append(inputs[0].shape[0]))
    try:
        alone, together = _pipes(tiny, nets), _pipes(tiny, nets)
        for frame in range(5):
            images = random_frames(3, seed=frame)
            controls = random_frames(3, seed=50 + frame)
            for a, b, control in zip(alone, together, controls, strict=True):
                a.control.set_image("depth", control)
                b.control.set_image("depth", control)
            expected = [pipe(image) for pipe, image in zip(alone, images, strict=True)]
            calls.clear()
            got = run_shared(list(zip(together, images, strict=True)))
            assert calls == [2 + 2 * 3 + 1]  # one ControlNet call over all samples (SELF 2, FULL 6, NONE 1)
            for e, g in zip(expected, got, strict=True):
                assert g.is_warmup == e.is_warmup
                if not e.is_warmup:  # warm-up outputs: see test_shared_batch.py
                    torch.testing.assert_close(g.latents, e.latents, atol=5e-4, rtol=1e-3)
    finally:
        hook.remove()


def test_pipelines_with_other_controlnets_do_not_share(tiny, nets):
    other = ControlNets({"depth": tiny_controlnet(tiny, seed=3)})
    a, b, c = (_pipes(tiny, n, SETUPS[:1])[0] for n in (nets, other, None))
    assert can_share(a, _pipes(tiny, nets, SETUPS[1:2])[0])  # able to fail: the same models share
    assert not can_share(a, b) and not can_share(a, c)
    with pytest.raises(ConfigError, match="can_share"):
        run_shared([(a, random_frames(1)[0]), (c, random_frames(1)[0])])
