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


def _noisy_latents(t_index: int) -> tuple[torch.Tensor, ...]:
    """(x_t, eps) in bfloat16 as a UNet step sees them (latent std 1.46, a near-right noise prediction), and
    the step's coefficients (float64, shaped (1, 1, 1, 1)): alpha, beta, c_skip, c_out."""
    timestep = schedule.lcm_timesteps(NoiseSchedule(), 50)[t_index]
    coef = schedule.step_coefficients(NoiseSchedule(), [timestep])
    a, b, c_skip, c_out = (v.view(1, 1, 1, 1) for v in (coef.alpha, coef.beta, coef.c_skip, coef.c_out))
    gen = torch.Generator().manual_seed(t_index)
    x0 = torch.randn(4, 4, 32, 32, generator=gen, dtype=torch.float64) * 1.46
    noise = torch.randn(4, 4, 32, 32, generator=gen, dtype=torch.float64)
    x_t = (a * x0 + b * noise).bfloat16()
    eps = (noise + 0.05 * torch.randn(4, 4, 32, 32, generator=gen, dtype=torch.float64)).bfloat16()
    return x_t, eps, a, b, c_skip, c_out


@pytest.mark.parametrize("t_index", [0, 32])
def test_bfloat16_glue_runs_in_float32_and_its_error_drops(t_index):
    x_t, eps, a, b, c_skip, c_out = _noisy_latents(t_index)
    exact = c_out * (x_t.double() - b * eps.double()) / a + c_skip * x_t.double()
    # the glue as it ran before: every coefficient and every intermediate in the model's bfloat16
    bf = [v.bfloat16() for v in (a, b, c_skip, c_out)]
    old = bf[3] * ((x_t - bf[1] * eps) / bf[0]) + bf[2] * x_t
    new = schedule.consistency_step(x_t, eps, *(v.float() for v in (a, b, c_skip, c_out)))
    assert new.dtype == torch.float32
    old_error = float((old.double() - exact).abs().max())
    new_error = float((new.bfloat16().double() - exact).abs().max())  # one rounding to the model dtype at the end
    half_ulp = float(exact.abs().max()) * 2.0**-8
    assert new_error <= half_ulp, (new_error, half_ulp)
    assert old_error > 2 * new_error, (old_error, new_error)  # measured 0.32 vs 0.016 (t=999), 0.044 vs 0.015
    assert float((new.double() - exact).abs().max()) < 1e-4


def test_glue_of_float32_and_float64_inputs_keeps_their_dtype():
    x = torch.ones(2, dtype=torch.float64)
    assert schedule.add_noise(x, x, x, x).dtype == torch.float64
    assert schedule.add_noise(x.float(), x.float(), x.float(), x.float()).dtype == torch.float32
    half = x.half()
    assert schedule.to_epsilon(half, half, half, half, PredictionType.V_PREDICTION).dtype == torch.float32
    assert schedule.to_epsilon(half, half, half, half, PredictionType.EPSILON).dtype == torch.float32
    assert schedule.predict_x0(half, half, half, half + 1).dtype == torch.float32
