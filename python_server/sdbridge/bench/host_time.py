"""Host time per frame outside the model calls: what a frame costs besides the UNet and the VAE.

The components' UNet and VAE are replaced by zero-cost fakes that return preallocated tensors (their own
time is measured and subtracted, so the figure holds whatever the fakes cost). A frame then costs only
the wire <-> pipeline pixel conversion and StreamPipeline's glue (normalisation, scheduler steps,
buffers, the uint8 output). Two paths over the same frames:

- "device path": the worker's (runtime.device_pixels: DevicePixels.upload, image_on_device, to_client);
- "numpy path": runtime/pixels.py's to_pipeline -> pipeline -> from_pipeline (the library user's path,
  and the worker's before runtime.device_pixels).

Client frames of the processing size, 1920x1080 frames resized to it and back, and 64x64 frames at a 64x64
processing size (the per-frame cost that does not grow with the pixels). On the CPU the device is the host:
the device path converts the layout with runtime/pixels.py and resizes with torch (uint8 kernel), the numpy
path resizes with PIL. On CUDA the device path leaves the host two memcpys and kernel launches (not run on
a GPU here: no figure of it exists in this repository).
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from typing import Any

import numpy as np
import torch

from sdbridge.pipeline import CfgMode, Components, StreamConfig, StreamPipeline, VaeChoice
from sdbridge.runtime.host_heap import keep_freed_buffers
from sdbridge.runtime.pixels import Layout, PixelFormat, from_pipeline, to_pipeline

CLIENTS = ((512, 512), (1920, 1080))


class _Clock:
    """Seconds spent inside the fake model calls: wall and this process's CPU time."""

    def __init__(self) -> None:
        self.inside = 0.0
        self.inside_cpu = 0.0

    def add(self, wall_start: float, cpu_start: float) -> None:
        self.inside += time.perf_counter() - wall_start
        self.inside_cpu += time.process_time() - cpu_start


class ZeroCostUnet(torch.nn.Module):
    """A UNet that returns a preallocated tensor of its input's shape (one per shape)."""

    def __init__(self, clock: _Clock) -> None:
        super().__init__()
        self._clock = clock
        self._out: dict[tuple[int, ...], torch.Tensor] = {}

    def forward(self, sample: torch.Tensor, *args: Any, **kwargs: Any) -> tuple[torch.Tensor]:
        start, cpu = time.perf_counter(), time.process_time()
        out = self._out.get(tuple(sample.shape))
        if out is None:
            out = self._out[tuple(sample.shape)] = torch.zeros_like(sample)
        self._clock.add(start, cpu)
        return (out,)


@dataclasses.dataclass
class _Encoded:
    latents: torch.Tensor


class ZeroCostVae(torch.nn.Module):
    """A tiny-VAE stand-in: encode returns preallocated latents, decode a preallocated image in [-1, 1]."""

    def __init__(self, clock: _Clock, latents: torch.Tensor, image: torch.Tensor) -> None:
        super().__init__()
        self._clock, self._latents, self._image = clock, latents, image

    def encode(self, frames: torch.Tensor) -> _Encoded:
        self._clock.add(time.perf_counter(), time.process_time())
        return _Encoded(self._latents)

    def decode(self, latents: torch.Tensor, return_dict: bool = False) -> tuple[torch.Tensor]:
        self._clock.add(time.perf_counter(), time.process_time())
        return (self._image,)


def zero_cost_pipeline(comps: Components, size: int, clock: _Clock) -> StreamPipeline:
    """A prepared StreamPipeline (2 steps, cfg self, size x size) on `comps` with the zero-cost UNet and VAE."""
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(1, comps.latent_channels, size // comps.vae_scale_factor, size // comps.vae_scale_factor,
                          generator=generator).to(comps.device, comps.dtype)
    image = (torch.rand(1, 3, size, size, generator=generator) * 2 - 1).to(comps.device, comps.dtype)
    image = image.contiguous(memory_format=torch.channels_last)  # a VAE fed channels_last answers in it
    fake = dataclasses.replace(comps, unet=ZeroCostUnet(clock), vae=ZeroCostVae(clock, latents, image),
                               vae_choice=VaeChoice.TAESD)
    config = StreamConfig(width=size, height=size, t_index_list=(16, 45), cfg_mode=CfgMode.SELF)
    pipe = StreamPipeline(fake, config)
    pipe.prepare(prompt="a watercolor painting of a castle", negative_prompt="blurry")
    return pipe


def _device_step(pipe: StreamPipeline, size: int) -> Any:
    from sdbridge.runtime.device_pixels import device_pixels_for, to_client

    pixels = device_pixels_for(pipe)
    assert pixels is not None

    def step(payload: bytes, layout: Layout) -> np.ndarray:
        rgb, alpha = pixels.upload(payload, layout, (size, size))
        return to_client(pipe(rgb).image, alpha, layout)

    return step


def _numpy_step(pipe: StreamPipeline, size: int) -> Any:
    def step(payload: bytes, layout: Layout) -> np.ndarray:
        rgb, alpha = to_pipeline(payload, layout, (size, size))
        return from_pipeline(pipe(rgb).image, alpha, layout)

    return step


def host_ms(comps: Components, path: str, client: tuple[int, int], size: int = 512, frames: int = 20,
            warmup: int = 3) -> tuple[float, float]:
    """Median host milliseconds per frame outside the model calls, `path` "device" or "numpy": (wall, CPU).

    The CPU time (time.process_time, every thread of the process) is what the frame costs the host even on a
    loaded machine, where the wall time also counts the time other processes held the cores."""
    keep_freed_buffers()  # as `sdbridge serve` does at startup
    clock = _Clock()
    pipe = zero_cost_pipeline(comps, size, clock)
    step = (_device_step if path == "device" else _numpy_step)(pipe, size)
    layout = Layout.packed(client[0], client[1], PixelFormat.RGBA8)
    rng = np.random.default_rng(0)
    payloads = [rng.integers(0, 256, size=layout.expected_bytes, dtype=np.uint8).tobytes() for _ in range(2)]
    walls, cpus = [], []
    for i in range(warmup + frames):
        inside, inside_cpu = clock.inside, clock.inside_cpu
        start, cpu = time.perf_counter(), time.process_time()
        step(payloads[i % 2], layout)
        if i >= warmup:
            walls.append(time.perf_counter() - start - (clock.inside - inside))
            cpus.append(time.process_time() - cpu - (clock.inside_cpu - inside_cpu))
    return 1000 * statistics.median(walls), 1000 * statistics.median(cpus)


def host_time_report(comps: Components, frames: int = 20, size: int = 512) -> str:
    """The section of `sdbridge bench pipeline`: host ms per frame, device and numpy paths, per client size, and
    a last row at 64x64 (client and processing): the part of a frame's host time that does not grow with its
    pixels (torch dispatch of the glue's small ops, Python), what a GPU's host pays besides the two memcpys."""
    lines = [f"Host time per frame outside the model calls (zero-cost UNet/VAE, {size}x{size}, 2 steps, cfg self, "
             f"RGBA8 frames, {comps.device}, {torch.get_num_threads()} threads), median of {frames} frames:", "",
             "| client frames | device path (worker) ms | CPU ms | numpy path ms | CPU ms |", "|---|---|---|---|---|"]
    rows = [(client, size) for client in CLIENTS] + ([((64, 64), 64)] if size != 64 else [])
    for client, processing in rows:
        resized = "" if client == (processing, processing) else \
            f" -> {processing}x{processing} -> {client[0]}x{client[1]}"
        label = " (size-independent part)" if processing != size else ""
        figures = [ms for p in ("device", "numpy") for ms in host_ms(comps, p, client, processing, frames)]
        lines.append(f"| {client[0]}x{client[1]}{resized}{label} | " + " | ".join(f"{ms:.2f}" for ms in figures) + " |")
    return "\n".join(lines)
