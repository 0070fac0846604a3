"""The backend interface: which backend, with which options, over which shapes; and the three runners.

A backend turns the three export modules (UNet, VAE encoder, VAE decoder; see export_modules.py) into
`Runners`: plain callables on torch tensors. Adapters (adapters.py) put them behind the diffusers call
signatures StreamPipeline uses, so the pipeline runs unchanged on every backend.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from sdbridge.errors import ConfigError

if TYPE_CHECKING:
    from sdbridge.pipeline import Components


class BackendChoice(enum.Enum):
    """The backend that runs the UNet and the VAE (`--accel`, config `[accel] backend`)."""

    EAGER = "eager"  # plain torch modules (default)
    COMPILE = "compile"  # torch.compile (inductor); CUDA graphs with cuda_graphs=True on a GPU
    ONNXRUNTIME = "onnxruntime"  # ONNX export + ONNX Runtime (CPU here; CUDA / TensorRT execution providers)
    TENSORRT = "tensorrt"  # ONNX export + native TensorRT engines (NVIDIA GPU only)

    @property
    def builds_engines(self) -> bool:
        """True for the backends that export and cache engines in engines/."""
        return self in (BackendChoice.ONNXRUNTIME, BackendChoice.TENSORRT)


@dataclass(frozen=True)
class ShapeRange:
    """Shapes an engine accepts: UNet batch and frame size in pixels, each as (min, opt, max).

    ONNX Runtime models are exported fully dynamic and accept any shape (the range is still recorded);
    TensorRT engines accept exactly this range (one optimisation profile). The VAE batch is
    frame_buffer_size (vae_batch).
    """

    batch: tuple[int, int, int] = (1, 2, 8)
    height: tuple[int, int, int] = (256, 512, 768)
    width: tuple[int, int, int] = (256, 512, 768)
    vae_batch: tuple[int, int, int] = (1, 1, 4)

    def __post_init__(self) -> None:
        for name in ("batch", "height", "width", "vae_batch"):
            lo, opt, hi = getattr(self, name)
            if not 1 <= lo <= opt <= hi:
                raise ConfigError(f"shape range {name}={(lo, opt, hi)} must satisfy 1 <= min <= opt <= max")
        for name in ("height", "width"):
            if any(v % 8 for v in getattr(self, name)):
                raise ConfigError(f"shape range {name}={getattr(self, name)}: every size must be a multiple of 8")

    @classmethod
    def fixed(cls, batch: int, height: int, width: int, vae_batch: int = 1) -> ShapeRange:
        """A range holding exactly one shape."""
        return cls((batch,) * 3, (height,) * 3, (width,) * 3, (vae_batch,) * 3)

    def contains(self, batch: int, height: int, width: int) -> bool:
        """True if a UNet call of `batch` samples at height x width pixels is inside the range."""
        return (self.batch[0] <= batch <= self.batch[2] and self.height[0] <= height <= self.height[2]
                and self.width[0] <= width <= self.width[2])

    def as_dict(self) -> dict[str, list[int]]:
        """JSON-friendly form (manifests and engine keys)."""
        return {k: list(getattr(self, k)) for k in ("batch", "height", "width", "vae_batch")}


@dataclass(frozen=True)
class AccelOptions:
    """How to accelerate: the backend and where / how its engines are built.

    `engines_dir`: the engine cache folder. `background`: serve with torch eager while the engine builds,
    then switch (engine backends only). `threads`: ONNX Runtime intra-op threads (0 = torch's thread
    count). `cuda_graphs`: torch.compile mode "reduce-overhead" (CUDA only). `shapes`: the range to build.
    `progress`: show tqdm progress bars while building. `ort_providers`: ONNX Runtime execution providers in
    priority order, e.g. ("TensorrtExecutionProvider", "CUDAExecutionProvider") on a GPU; () = by device
    (CPU or CUDA). Each must be available, or BackendUnavailableError names the missing one.
    """

    backend: BackendChoice = BackendChoice.EAGER
    engines_dir: Path = Path("engines")
    background: bool = False
    threads: int = 0
    cuda_graphs: bool = False
    shapes: ShapeRange = field(default_factory=ShapeRange)
    progress: bool = True
    ort_providers: tuple[str, ...] = ()


UnetRunner = Callable[..., torch.Tensor]
"""unet(sample, timestep, encoder_hidden_states, text_embeds=None, time_ids=None) -> noise prediction."""
ImageRunner = Callable[[torch.Tensor], torch.Tensor]
"""vae_encode(images in [-1, 1]) -> latents (unscaled); vae_decode(latents (unscaled)) -> images."""


@dataclass(frozen=True)
class Runners:
    """The three callables a backend provides, and a one-line description for logs.

    `unet_batch`: (min, max) UNet batch the unet runner accepts (an engine built for a batch range); None = any.
    Callers that merge requests (pipeline/shared_batch.py) split them to fit, through the UNet adapter's
    `max_batch`. `memory_format`: the layout the runners bind without a copy (engines: torch.contiguous_format,
    NCHW); None = any (torch modules, which StreamConfig.channels_last feeds NHWC).
    """

    unet: UnetRunner
    vae_encode: ImageRunner
    vae_decode: ImageRunner
    description: str
    unet_batch: tuple[int, int] | None = None
    memory_format: torch.memory_format | None = None


class Backend(ABC):
    """One acceleration backend. `check()` raises BackendUnavailableError naming why and how to fix."""

    choice: BackendChoice

    @abstractmethod
    def check(self, components: Components) -> None:
        """Raise BackendUnavailableError if this backend cannot run `components` here."""

    @abstractmethod
    def version(self) -> str:
        """Version string of the backend's runtime (part of engine keys)."""

    @abstractmethod
    def runners(self, components: Components, options: AccelOptions) -> Runners:
        """Build (or load from the cache) and return the runners. May take minutes for engine backends."""
