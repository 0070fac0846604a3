"""How close each model stage runs to what this machine's matrix units can do.

Counts the multiply-accumulates of every Conv2d and Linear in one VAE encode, one VAE decode and one
UNet call (forward hooks on the real modules, one untimed pass), times each stage, and compares the
achieved GFLOP/s (2 FLOPs per MAC) with a large matrix product in the same dtype: the practical peak.
A stage near that peak is compute-bound, and no implementation of the same math runs it much faster
on this machine; a stage far below it loses its time elsewhere (attention's exponentials, small
kernels, memory traffic, per-operator overhead). Attention's own products are not counted (they are
not Conv2d/Linear modules), so the UNet's figure understates its arithmetic a little.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from sdbridge.pipeline import Components, ModelFamily


@dataclass(frozen=True)
class StageCompute:
    """One stage: multiply-accumulates of its Conv2d/Linear layers, median time, achieved GFLOP/s."""

    name: str
    gmac: float
    ms: float

    @property
    def gflops(self) -> float:
        """Achieved GFLOP/s (2 FLOPs per multiply-accumulate)."""
        return 2 * self.gmac / (self.ms / 1000) if self.ms > 0 else 0.0


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median milliseconds of `repeats` calls of `fn`, after one untimed call."""
    fn()  # first-call costs (allocator, kernel choice) stay out of the figure
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _count_macs(modules: list[torch.nn.Module], fn: Callable[[], object]) -> int:
    total = 0

    def hook(module: torch.nn.Module, _inputs: object, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):  # each output element: in/groups x kh x kw MACs
            total += output.numel() * module.weight[0].numel()
        else:
            assert isinstance(module, torch.nn.Linear)
            total += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for root in modules for m in root.modules()
               if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    try:
        fn()
    finally:
        for h in handles:
            h.remove()
    return total


def matmul_peak_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of one n x n x n matrix product in `dtype` on the CPU: the practical peak."""
    with torch.inference_mode():
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        ms = median_ms(lambda: a @ b, repeats)
    return 2 * n**3 / (ms / 1000) / 1e9


def stage_compute(comps: Components, size: int, repeats: int = 5) -> list[StageCompute]:
    """VAE encode (1x3xSxS), VAE decode and a batch-1 UNet call, as the pipeline feeds them (channels_last)."""
    vae, unet = comps.vae, comps.unet
    assert vae is not None and unet is not None, "needs a model with a VAE and a UNet (not identity)"
    h = size // comps.vae_scale_factor
    cl = torch.channels_last
    image = torch.randn(1, 3, size, size, dtype=comps.dtype).contiguous(memory_format=cl)  # (1, 3, S, S)
    latent = torch.randn(1, comps.latent_channels, h, h, dtype=comps.dtype).contiguous(memory_format=cl)
    cond = torch.zeros(1, 77, unet.config.cross_attention_dim, dtype=comps.dtype)  # (1, 77, D)
    t = torch.full((1,), 500, dtype=torch.long)
    kwargs = {}
    if comps.family is ModelFamily.SDXL:  # SDXL's added conditioning (pooled text embeds, size/crop ids)
        proj = int(unet.config.projection_class_embeddings_input_dim)
        time_ids = 6 * int(unet.config.addition_time_embed_dim)
        kwargs = {"added_cond_kwargs": {"text_embeds": torch.zeros(1, proj - time_ids, dtype=comps.dtype),
                                        "time_ids": torch.zeros(1, 6, dtype=comps.dtype)}}
    stages: dict[str, Callable[[], object]] = {
        "VAE encode": lambda: vae.encode(image),
        "UNet, batch 1": lambda: unet(latent, t, encoder_hidden_states=cond, return_dict=False, **kwargs),
        "VAE decode": lambda: vae.decode(latent),
    }
    out = []
    with torch.inference_mode():
        for name, fn in stages.items():
            macs = _count_macs([vae, unet], fn)
            out.append(StageCompute(name, macs / 1e9, median_ms(fn, repeats)))
    return out


def compute_report(comps: Components, size: int) -> str:
    """Text lines: each stage's GMAC, time and GFLOP/s against this machine's matrix-product peak."""
    return compute_table(stage_compute(comps, size), matmul_peak_gflops(comps.dtype), comps.dtype)


def compute_table(stages: list[StageCompute], peak: float, dtype: torch.dtype) -> str:
    """The compute report's table for measured `stages` against a matrix peak of `peak` GFLOP/s."""
    lines = [f"Compute per stage ({dtype}, {torch.get_num_threads()} threads; peak = a 2048^3 matrix "
             f"product: {peak:.0f} GFLOP/s):", "", "| stage | GMAC (Conv2d + Linear) | ms | GFLOP/s | of peak |",
             "|---|---|---|---|---|"]
    for s in stages:
        lines.append(f"| {s.name} | {s.gmac:.2f} | {s.ms:.1f} | {s.gflops:.0f} | {s.gflops / peak:.0%} |")
    return "\n".join(lines)
