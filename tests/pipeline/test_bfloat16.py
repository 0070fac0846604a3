"""bfloat16 on the CPU: the pipeline runs in it and stays close to float32; the CPU feature probe and hint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sdbridge.cpu_features import CpuBf16, bf16_hint, cpu_bf16, cpu_flags
from sdbridge.pipeline import CfgMode, StreamConfig, StreamPipeline, load_components
from tests.conftest import random_frames

SAPPHIRE = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n"
ICE_LAKE_BF16 = "flags\t\t: fpu avx2 avx512f avx512_bf16\n"
ZEN2 = "flags\t\t: fpu avx2 fma\n"


def test_cpu_bf16_reads_the_flags_line() -> None:
    assert cpu_bf16(SAPPHIRE) is CpuBf16.AMX
    assert cpu_bf16(ICE_LAKE_BF16) is CpuBf16.AVX512
    assert cpu_bf16(ZEN2) is CpuBf16.NONE
    assert cpu_bf16("model name\t: something\n") is CpuBf16.NONE  # no flags line (e.g. ARM lists "Features")
    assert "amx_tile" in cpu_flags(SAPPHIRE) and "amx_tile" not in cpu_flags(ZEN2)


def test_the_hint_is_given_only_for_float32_on_an_amx_cpu() -> None:
    assert bf16_hint("cpu", "float32", CpuBf16.AMX) is not None
    assert "--dtype bfloat16" in str(bf16_hint("cpu", "float32", CpuBf16.AMX))
    assert bf16_hint("cpu", "bfloat16", CpuBf16.AMX) is None
    assert bf16_hint("cuda", "float32", CpuBf16.AMX) is None
    assert bf16_hint("cpu", "float32", CpuBf16.AVX512) is None
    assert bf16_hint("cpu", "float32", CpuBf16.NONE) is None


@pytest.fixture(scope="module")
def tiny_bf16():
    """The tiny components in bfloat16 (same weight seed as the float32 `tiny` fixture)."""
    return load_components("tiny", device="cpu", dtype=torch.bfloat16)


@pytest.mark.parametrize("mode", [CfgMode.NONE, CfgMode.SELF, CfgMode.FULL])
def test_a_bfloat16_pipeline_stays_close_to_float32_after_warm_up(mode: CfgMode, tiny, tiny_bf16) -> None:
    frames = random_frames(6)
    outputs = {}
    for dtype, comps in ((torch.float32, tiny), (torch.bfloat16, tiny_bf16)):
        assert next(comps.unet.parameters()).dtype == dtype
        pipe = StreamPipeline(comps, StreamConfig(width=64, height=64, t_index_list=[0, 16, 32, 45], cfg_mode=mode,
                                                  guidance_scale=1.4, seed=2))
        pipe.prepare(prompt="a watercolor castle", negative_prompt="blurry")
        outputs[dtype] = [pipe(f) for f in frames]
    for full, half in zip(outputs[torch.float32], outputs[torch.bfloat16], strict=True):
        assert half.image.dtype == np.uint8 and half.image.shape == full.image.shape
        assert half.is_warmup == full.is_warmup
    settled = [(f.image.astype(np.int16), h.image.astype(np.int16))
               for f, h in zip(outputs[torch.float32], outputs[torch.bfloat16], strict=True) if not f.is_warmup]
    assert len(settled) == 3
    diffs = [float(np.abs(f - h).mean()) for f, h in settled]
    # measured 0.35-0.67 levels of 255 with these weights; warm-up outputs (zero buffers) differ more
    assert all(d < 2.0 for d in diffs), diffs
    assert any(d > 0 for d in diffs), "bfloat16 gave float32's exact pixels: it did not run in bfloat16"


def test_the_scheduler_glue_of_a_bfloat16_pipeline_runs_in_float32(tiny_bf16) -> None:
    from sdbridge.pipeline import schedule

    pipe = StreamPipeline(tiny_bf16, StreamConfig(width=64, height=64, t_index_list=[0], seed=2))
    pipe.prepare(prompt="a watercolor castle")
    staged = pipe.stage(random_frames(1)[0])
    out = pipe.run_unet(staged.request)
    assert out.dtype == torch.bfloat16
    result = pipe.complete(staged, out)
    assert result.latents.dtype == torch.bfloat16
    ladder = schedule.lcm_timesteps(tiny_bf16.schedule, 50)
    coef = schedule.step_coefficients(tiny_bf16.schedule, [ladder[0]])  # t=999: alpha 0.068 magnifies rounding
    a, b, c_skip, c_out = (v.view(1, 1, 1, 1) for v in (coef.alpha, coef.beta, coef.c_skip, coef.c_out))
    x = staged.request.x.double()
    exact = c_out * (x - b * out.double()) / a + c_skip * x
    error = float((result.latents.double() - exact).abs().max())
    # one rounding to bfloat16 at the end; bfloat16 glue (every term rounded) was several times above it
    assert error <= float(exact.abs().max()) * 2.0**-8, error
