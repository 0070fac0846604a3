"""StreamConfig (frozen, validated) and StreamResult: the pipeline's inputs and outputs."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from sdbridge import params
from sdbridge.errors import ConfigError
from sdbridge.pipeline.guidance import CfgMode


def _registry_check(name: str, value: object) -> object:
    """A live parameter's value checked against its one range in the parameter registry (sdbridge.params), returned
    as the registry normalises it."""
    try:
        return params.check(name, value, "StreamConfig")
    except params.ParamError as exc:
        raise ConfigError(str(exc)) from None


def _applies(param: params.Param, value: object) -> bool:
    """Whether `param` is the registry entry for `value` of its StreamConfig field: a field two entries set (seed: an
    int, seed_blend: a blend of seeds) takes the blend entry for a list or tuple, the other for anything else."""
    if param.key not in _SHARED_KEYS:
        return True
    return (param.kind is params.Kind.BLEND) == isinstance(value, list | tuple)


class Interpolation(enum.Enum):
    """How weighted prompt embeddings or seed noises are blended."""

    LINEAR = "linear"
    SLERP = "slerp"


# A prompt is a text or a weighted blend of texts; a seed is an int or a weighted blend of seeds.
PromptSpec = str | Sequence[tuple[str, float]]
SeedSpec = int | Sequence[tuple[int, float]]


@dataclass(frozen=True)
class StreamConfig:
    """Everything that shapes a StreamPipeline. Runtime changes go through `StreamPipeline.update`."""

    width: int = 512
    height: int = 512
    # the live parameters' defaults are the registry's (sdbridge.params), declared there once
    t_index_list: tuple[int, ...] = params.BY_NAME["t_index_list"].default
    num_inference_steps: int = 50  # length of the LCM timestep ladder that t_index_list indexes into
    cfg_mode: CfgMode = CfgMode(params.BY_NAME["cfg_mode"].default)  # noqa: RUF009 (an enum member: immutable)
    guidance_scale: float = params.BY_NAME["guidance_scale"].default
    delta: float = params.BY_NAME["delta"].default
    seed: SeedSpec = params.BY_NAME["seed"].default
    seed_interpolation: Interpolation = Interpolation.SLERP
    prompt_interpolation: Interpolation = Interpolation.LINEAR
    frame_buffer_size: int = 1
    use_denoising_batch: bool = True
    similarity_filter: bool = params.BY_NAME["similarity_filter"].default
    similarity_threshold: float = params.BY_NAME["similarity_threshold"].default
    max_skip_frames: int = params.BY_NAME["max_skip_frames"].default
    # live LoRA adapters' weights [(adapter, weight), ...]; adapters left out keep their starting weight
    lora_weights: tuple[tuple[str, float], ...] = params.BY_NAME["lora_weights"].default
    # ControlNets' live settings [(controlnet, value), ...] (sdbridge.pipeline.controlnet); names left out: 1, 0, 1
    controlnet_scale: tuple[tuple[str, float], ...] = params.BY_NAME["controlnet_scale"].default
    controlnet_start: tuple[tuple[str, float], ...] = params.BY_NAME["controlnet_start"].default
    controlnet_end: tuple[tuple[str, float], ...] = params.BY_NAME["controlnet_end"].default
    # Generate from the prompt alone: a call's input image is not looked at (the server's txt2img sessions feed the
    # worker placeholder frames). Same Stream Batch latency and warm-up flags as img2img; no similarity filter.
    txt2img: bool = params.BY_NAME["txt2img"].default
    # temporal coherence (sdbridge.pipeline.temporal): latent feedback and motion-guided warping strengths, the
    # warp's step, the scene-cut correlation threshold; every strength 0 leaves the output bit-identical
    latent_feedback: float = params.BY_NAME["latent_feedback"].default
    motion_warp: float = params.BY_NAME["motion_warp"].default
    motion_warp_step: int = params.BY_NAME["motion_warp_step"].default
    scene_cut_threshold: float = params.BY_NAME["scene_cut_threshold"].default
    # cached attention (sdbridge.pipeline.cached_attention): banked earlier frames, banking interval, blocks, feature
    # injection strength and similarity threshold; attention_bank 0 leaves the output bit-identical
    attention_bank: int = params.BY_NAME["attention_bank"].default
    attention_bank_interval: int = params.BY_NAME["attention_bank_interval"].default
    attention_bank_blocks: str = params.BY_NAME["attention_bank_blocks"].default
    feature_injection: float = params.BY_NAME["feature_injection"].default
    feature_injection_threshold: float = params.BY_NAME["feature_injection_threshold"].default
    # warp the bank's frames with the engine's motion (sdbridge.pipeline.bank_warp; needs frame_buffer_size 1)
    attention_bank_warp: bool = params.BY_NAME["attention_bank_warp"].default
    # IP-Adapter image attention scale (sdbridge.pipeline.ip_adapter); 0, or no style image, is exactly no adapter
    ip_adapter_scale: float = params.BY_NAME["ip_adapter_scale"].default
    # weights of the session's named style images [(style, weight), ...] (StyleImage messages; names checked by the
    # pipeline against the images it holds)
    style_blend: tuple[tuple[str, float], ...] = params.BY_NAME["style_blend"].default
    # Feed the UNet and VAE NHWC ("channels_last") tensors: oneDNN (CPU) and cuDNN pick faster convolution
    # kernels for them. Only activations change layout; the shared model weights are left as loaded.
    channels_last: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "t_index_list", tuple(int(t) for t in self.t_index_list))
        if not isinstance(self.cfg_mode, CfgMode):  # a name from the wire or a config ("self"): the registry's check
            _registry_check("cfg_mode", self.cfg_mode)
            object.__setattr__(self, "cfg_mode", CfgMode(self.cfg_mode))
        if isinstance(self.seed, list | tuple):  # a blend (checked, with any other value, by _validate)
            object.__setattr__(self, "seed", tuple(tuple(entry) for entry in self.seed))
        self._validate()

    def _validate(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if value <= 0 or value % 8:
                fix = max(8, round(value / 8) * 8)
                raise ConfigError(f"{name}={value} must be a positive multiple of 8 (the VAE factor); use {fix}")
        for param in _CARRIED:  # every registry entry StreamConfig carries, checked against its one range
            value = getattr(self, param.key)
            if _applies(param, value):
                checked = _registry_check(param.name, value)
                if param.kind is params.Kind.WEIGHTS:  # [(name, weight), ...] as tuples of (str, float)
                    object.__setattr__(self, param.key, checked)
        top = self.num_inference_steps - 1
        for t in self.t_index_list:
            if not 0 <= t <= top:
                raise ConfigError(
                    f"t_index_list value {t} is out of range [0, {top}] (num_inference_steps="
                    f"{self.num_inference_steps}); lower indices mean stronger denoising"
                )
        if self.frame_buffer_size < 1:
            raise ConfigError(f"frame_buffer_size={self.frame_buffer_size} must be >= 1")
        if self.motion_warp > 0 and self.frame_buffer_size != 1:
            raise ConfigError(f"motion_warp={self.motion_warp} needs frame_buffer_size=1 (motion is per frame), got "
                              f"frame_buffer_size={self.frame_buffer_size}; set motion_warp=0 or frame_buffer_size=1")
        if self.attention_bank_warp and self.attention_bank > 0 and self.frame_buffer_size != 1:
            raise ConfigError(f"attention_bank_warp=True needs frame_buffer_size=1 (motion is per frame), got "
                              f"frame_buffer_size={self.frame_buffer_size}; set attention_bank_warp=False or "
                              "frame_buffer_size=1")

    def replace(self, **changes: object) -> StreamConfig:
        """A copy with `changes` applied and validated."""
        return dataclasses.replace(self, **changes)

    @property
    def steps(self) -> int:
        """Number of denoising steps n = len(t_index_list)."""
        return len(self.t_index_list)


#: the registry entries whose values StreamConfig carries (a field named by the entry's key), in registry order:
#: StreamConfig._validate checks each, so an entry added with its StreamConfig field is checked with no edit there
_CARRIED: tuple[params.Param, ...] = tuple(
    p for p in params.REGISTRY if p.key in {f.name for f in dataclasses.fields(StreamConfig)})
#: StreamConfig fields more than one registry entry sets (seed: seed and seed_blend)
_SHARED_KEYS: frozenset[str] = frozenset(p.key for p in _CARRIED if sum(q.key == p.key for q in _CARRIED) > 1)


@dataclass(frozen=True, eq=False)
class StreamResult:
    """One output of the pipeline.

    `image` is HxWx3 uint8 RGB (or (B, H, W, 3) when frame_buffer_size > 1). A warm-up output
    (`is_warmup`) comes from a stream-batch buffer that did not yet hold a real frame: show the
    previous image instead. A skipped frame (`skipped`) repeats the last result without model work.

    `timings` are seconds per stage ("preprocess", "vae_encode", "unet", "vae_decode", "postprocess" and
    "total"; a skipped frame: "preprocess", "similarity", "total") of the frame numbered `timings_frame`.
    On CPU, and for skipped frames, that is this frame. On CUDA they come from CUDA events that are never
    waited for (sdbridge.pipeline.timing): the timings of frame N are only known at a later frame, so a
    result carries those of the newest earlier processed frame whose GPU work had completed, usually the
    one before it; until one has, every stage reads NaN and `timings_frame` is 0.
    """

    image: np.ndarray
    is_warmup: bool
    skipped: bool
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    latents: torch.Tensor | None = None  # (B, C, h, w) denoised latent before VAE decode
    frame_index: int = 0  # input frames seen so far, this one included
    timings_frame: int | None = None  # the frame_index `timings` measure (None: this frame's)
