"""Pure LCM / SD-Turbo scheduler math used by StreamPipeline (no state, no models).

StreamDiffusion runs every model (LCM-LoRA, SD-Turbo, SDXL-Turbo) with the LCM consistency step:
    x0_hat   = (x_t - beta_t * eps) / alpha_t                  # alpha_t = sqrt(abar_t), beta_t = sqrt(1 - abar_t)
    denoised = c_out(t) * x0_hat + c_skip(t) * x_t             # boundary-condition scalings
and re-noises a denoised latent for the next step with  x_next = alpha_next * denoised + beta_next * noise.
Everything here is a function of plain numbers or tensors, tested against diffusers' LCMScheduler.

The tensor functions (to_epsilon, add_noise, predict_x0, consistency_step) compute in float32 when an input
is float16 or bfloat16 and return float32: x0_hat divides by alpha_t (0.068 at t=999), so rounding every
term to bfloat16 magnified the error of a consistency step to 0.32 at t=999 (0.044 at t=359) on a latent of
std 1.47, against 0.016 for float32 glue with one final rounding (tests/pipeline/test_schedule.py). Callers
cast a result back to the model dtype only where it enters a model or a buffer (StreamPipeline does);
float32 and float64 inputs compute exactly as before.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import torch

from sdbridge.errors import ConfigError

SIGMA_DATA = 0.5  # LCM boundary-condition constant (Song et al., consistency models)


class BetaSchedule(enum.Enum):
    """How betas are spaced over the training timesteps (a diffusers scheduler config value)."""

    LINEAR = "linear"
    SCALED_LINEAR = "scaled_linear"


class PredictionType(enum.Enum):
    """What the UNet predicts: the noise (epsilon) or the velocity (v)."""

    EPSILON = "epsilon"
    V_PREDICTION = "v_prediction"


@dataclass(frozen=True)
class NoiseSchedule:
    """The training noise schedule of a model, read from its scheduler config."""

    num_train_timesteps: int = 1000
    beta_start: float = 0.00085
    beta_end: float = 0.012
    beta_schedule: BetaSchedule = BetaSchedule.SCALED_LINEAR
    prediction_type: PredictionType = PredictionType.EPSILON
    original_inference_steps: int = 50
    timestep_scaling: float = 10.0

    @classmethod
    def from_scheduler_config(cls, config: dict) -> NoiseSchedule:
        """Build from any diffusers scheduler config (Euler, DDIM, LCM ... share these keys)."""
        try:
            schedule = BetaSchedule(config.get("beta_schedule", "scaled_linear"))
        except ValueError as exc:
            raise ConfigError(
                f"beta_schedule={config.get('beta_schedule')!r} is not supported; expected one of "
                f"{[s.value for s in BetaSchedule]}"
            ) from exc
        try:
            prediction = PredictionType(config.get("prediction_type", "epsilon"))
        except ValueError as exc:
            raise ConfigError(
                f"prediction_type={config.get('prediction_type')!r} is not supported; expected one of "
                f"{[p.value for p in PredictionType]}"
            ) from exc
        return cls(
            num_train_timesteps=int(config.get("num_train_timesteps", 1000)),
            beta_start=float(config.get("beta_start", 0.00085)),
            beta_end=float(config.get("beta_end", 0.012)),
            beta_schedule=schedule,
            prediction_type=prediction,
            original_inference_steps=int(config.get("original_inference_steps", 50)),
            timestep_scaling=float(config.get("timestep_scaling", 10.0)),
        )


def alphas_cumprod(schedule: NoiseSchedule) -> torch.Tensor:
    """abar_t for t = 0 .. num_train_timesteps - 1, float64, shape (T,)."""
    n = schedule.num_train_timesteps
    if schedule.beta_schedule is BetaSchedule.SCALED_LINEAR:
        betas = torch.linspace(schedule.beta_start**0.5, schedule.beta_end**0.5, n, dtype=torch.float64) ** 2
    else:
        betas = torch.linspace(schedule.beta_start, schedule.beta_end, n, dtype=torch.float64)
    return torch.cumprod(1.0 - betas, dim=0)


def lcm_timesteps(schedule: NoiseSchedule, num_inference_steps: int = 50) -> list[int]:
    """The LCM timestep ladder (descending) that `t_index_list` indexes into.

    Same as diffusers' LCMScheduler.set_timesteps(num_inference_steps) with strength 1.
    """
    original = schedule.original_inference_steps
    if not 1 <= num_inference_steps <= original:
        raise ConfigError(
            f"num_inference_steps={num_inference_steps} must be in [1, {original}] "
            f"(original_inference_steps of the scheduler)"
        )
    k = schedule.num_train_timesteps // original
    origin = [(i + 1) * k - 1 for i in range(original)][::-1]  # e.g. 999, 979, ..., 19
    picks = [math.floor(i * len(origin) / num_inference_steps) for i in range(num_inference_steps)]
    return [origin[p] for p in picks]


def boundary_scalings(timestep: float, timestep_scaling: float = 10.0) -> tuple[float, float]:
    """(c_skip, c_out) of the LCM boundary condition at `timestep`."""
    scaled = timestep * timestep_scaling
    c_skip = SIGMA_DATA**2 / (scaled**2 + SIGMA_DATA**2)
    c_out = scaled / (scaled**2 + SIGMA_DATA**2) ** 0.5
    return c_skip, c_out


@dataclass(frozen=True)
class StepCoefficients:
    """Per-step constants for a list of timesteps; every tensor has shape (n,) in float64."""

    timesteps: torch.Tensor  # (n,) int64
    alpha: torch.Tensor  # sqrt(abar_t)
    beta: torch.Tensor  # sqrt(1 - abar_t)
    c_skip: torch.Tensor
    c_out: torch.Tensor


def step_coefficients(schedule: NoiseSchedule, timesteps: list[int]) -> StepCoefficients:
    """Precompute alpha, beta, c_skip and c_out for each timestep (the paper's precomputation)."""
    abar = alphas_cumprod(schedule)
    ts = torch.tensor(timesteps, dtype=torch.int64)
    scalings = [boundary_scalings(float(t), schedule.timestep_scaling) for t in timesteps]
    return StepCoefficients(
        timesteps=ts,
        alpha=abar[ts].sqrt(),
        beta=(1.0 - abar[ts]).sqrt(),
        c_skip=torch.tensor([s[0] for s in scalings], dtype=torch.float64),
        c_out=torch.tensor([s[1] for s in scalings], dtype=torch.float64),
    )


_HALF = (torch.float16, torch.bfloat16)


def wide(x: torch.Tensor) -> torch.Tensor:
    """`x` in float32 when it is float16 / bfloat16 (the dtype the scheduler glue computes in), else `x`."""
    return x.float() if x.dtype in _HALF else x


def to_epsilon(
    model_output: torch.Tensor, x_t: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor,
    prediction: PredictionType,
) -> torch.Tensor:
    """Convert a UNet output to a noise prediction (v = alpha * eps - beta * x0  =>  eps = alpha*v + beta*x_t)."""
    if prediction is PredictionType.EPSILON:
        return wide(model_output)
    return wide(alpha) * wide(model_output) + wide(beta) * wide(x_t)


def add_noise(x0: torch.Tensor, noise: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Forward diffusion: x_t = alpha * x0 + beta * noise."""
    return wide(alpha) * wide(x0) + wide(beta) * wide(noise)


def predict_x0(x_t: torch.Tensor, eps: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """The clean latent implied by x_t and a noise prediction: (x_t - beta * eps) / alpha."""
    return (wide(x_t) - wide(beta) * wide(eps)) / wide(alpha)


def consistency_step(
    x_t: torch.Tensor, eps: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor,
    c_skip: torch.Tensor, c_out: torch.Tensor,
) -> torch.Tensor:
    """One LCM step without re-noising: the denoised latent c_out * x0_hat + c_skip * x_t."""
    return wide(c_out) * predict_x0(x_t, eps, alpha, beta) + wide(c_skip) * wide(x_t)
