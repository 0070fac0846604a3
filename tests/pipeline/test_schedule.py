"""The pure scheduler math equals diffusers' LCMScheduler."""

from __future__ import annotations

import pytest
import torch
from diffusers import LCMScheduler

from sdbridge.pipeline import schedule
from sdbridge.pipeline.schedule import NoiseSchedule, PredictionType


@pytest.mark.parametrize("steps", [1, 4, 25, 50])
def test_timestep_ladder_matches_diffusers(steps):
    reference = LCMScheduler()
    reference.set_timesteps(steps)
    assert schedule.lcm_timesteps(NoiseSchedule(), steps) == reference.timesteps.tolist()


def test_alphas_match_diffusers():
    reference = LCMScheduler()
    ours = schedule.alphas_cumprod(NoiseSchedule())
    torch.testing.assert_close(ours.float(), reference.alphas_cumprod, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("prediction", list(PredictionType))
@pytest.mark.parametrize("t_index", [0, 16, 32, 45, 49])
def test_consistency_step_matches_lcm_step(prediction, t_index):
    reference = LCMScheduler(prediction_type=prediction.value)
    reference.set_timesteps(50)
    timestep = int(reference.timesteps[t_index])
    gen = torch.Generator().manual_seed(t_index)
    sample = torch.randn(2, 4, 8, 8, generator=gen, dtype=torch.float64)
    model_output = torch.randn(2, 4, 8, 8, generator=gen, dtype=torch.float64)
    expected = reference.step(model_output.float(), timestep, sample.float(), return_dict=True).denoised

    coef = schedule.step_coefficients(NoiseSchedule(prediction_type=prediction), [timestep])
    a, b = coef.alpha.view(1, 1, 1, 1), coef.beta.view(1, 1, 1, 1)
    eps = schedule.to_epsilon(model_output, sample, a, b, prediction)
    ours = schedule.consistency_step(sample, eps, a, b, coef.c_skip.view(1, 1, 1, 1), coef.c_out.view(1, 1, 1, 1))
    torch.testing.assert_close(ours.float(), expected, atol=1e-4, rtol=1e-4)


def test_schedule_from_config_rejects_unknown_values():
    from sdbridge.errors import ConfigError

    with pytest.raises(ConfigError, match="beta_schedule='cosine'"):
        NoiseSchedule.from_scheduler_config({"beta_schedule": "cosine"})
    with pytest.raises(ConfigError, match="prediction_type='sample'"):
        NoiseSchedule.from_scheduler_config({"prediction_type": "sample"})
