"""StreamPipeline: the StreamDiffusion pipeline (arXiv 2312.12491) on diffusers components.

Stream Batch: the n denoising steps of n different frames run as ONE UNet batch. Slot layout of that
batch (fbs = frame_buffer_size, n = len(t_index_list)):
    [step 0: fbs new frames][step 1: fbs frames from 1 call ago] ... [step n-1: fbs frames from n-1 calls ago]
After the UNet, the last fbs slots are finished outputs; the others are re-noised to their next timestep
and kept in a buffer, so an output lags its input by (n - 1) * fbs frames (`latency_frames`). Outputs
whose slot was never fed a real frame are flagged `is_warmup`.
With use_denoising_batch=False the same math runs sequentially (one UNet call per step, no lag).

Every runtime parameter changes between frames through `update` without reloading anything.
ControlNets (optional, `controlnets=`): `pipe.control.set_image(name, image)`; each slot is conditioned on the
control image of the frame it denoises (the per-slot buffer: sdbridge.pipeline.controlnet.ControlStream).
IP-Adapter (optional, `ip_adapter=`): `pipe.set_style_image(name, rgb)`, `update(style_blend=[(name, weight)])`
(sdbridge.pipeline.style_images).
Temporal coherence (latent feedback, motion-guided warping, scene cuts): `pipe.temporal.set_motion`, `pipe.scene_cut`
(sdbridge.pipeline.temporal); cached attention and feature injection (`attention_bank`, ...): processors on the UNet's
self-attention around each `run_unet` (sdbridge.pipeline.cached_attention).
Not thread-safe: one thread calls a pipeline; several pipelines may share one Components.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import torch

from sdbridge.errors import ConfigError, InputError
from sdbridge.pipeline import guidance, schedule, streams
from sdbridge.pipeline.blending import blend
from sdbridge.pipeline.components import Components, ModelFamily, VaeChoice
from sdbridge.pipeline.config import Interpolation, PromptSpec, StreamConfig, StreamResult
from sdbridge.pipeline.controlnet import ControlInputs, ControlNets, ControlStream
from sdbridge.pipeline.guidance import CfgMode
from sdbridge.pipeline.images import to_model_tensor, to_uint8, to_uint8_tensor
from sdbridge.pipeline.ip_adapter import IpAdapter
from sdbridge.pipeline.live_lora import live_weights
from sdbridge.pipeline.prompts import PromptEmbedding, PromptEncoder
from sdbridge.pipeline.similarity import SimilarityFilter, thumbnail
from sdbridge.pipeline.style_images import StyleImages, StyleStream
from sdbridge.pipeline.temporal import TemporalState
from sdbridge.pipeline.timing import FrameTimer, StageClock

_CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(StreamConfig))
# Changing one of these changes buffer shapes: the stream restarts (with warm-up) instead of failing.
_RESTART_FIELDS = frozenset({"width", "height", "frame_buffer_size", "use_denoising_batch"})


class StreamPipeline:
    """Real-time img2img / txt2img with Stream Batch, RCFG and the stochastic similarity filter."""

    #: False: results' `image` is a numpy array. True (the server's worker sets it): a contiguous uint8 tensor
    #: (H, W, 3) (or (B, H, W, 3)) left on the model's device, converted there (runtime.device_pixels).
    image_on_device: bool = False

    def __init__(self, components: Components, config: StreamConfig, controlnets: ControlNets | None = None,
                 ip_adapter: IpAdapter | None = None) -> None:
        if components.family is ModelFamily.IDENTITY or components.unet is None:
            raise ConfigError("the 'identity' components have no model; use build_pipeline() or IdentityPipeline")
        self.components = components
        live_weights(components.live_loras, config.lora_weights)  # refuses an adapter this model lacks
        self.control = ControlStream(controlnets, components, config)  # set_image, the per-slot control buffer
        self.style = StyleStream(ip_adapter, components)  # IP-Adapter style images (pipeline/ip_adapter.py)
        self._device, self._dtype = components.device, components.dtype
        self._prompts = PromptEncoder(components)
        self._prompt: PromptSpec = ""
        self._cond: PromptEmbedding | None = None
        self._uncond: PromptEmbedding | None = None
        self._conditioning_cache: dict[tuple[int, int], tuple[torch.Tensor, dict | None]] = {}
        self.config = config
        self._similarity = SimilarityFilter(config.similarity_threshold, config.max_skip_frames, _first_seed(config))
        self._clock = StageClock(self._device)  # stage timings without a host sync (CUDA: a frame late)
        self.temporal = TemporalState(components.vae_scale_factor, self._device)  # set_motion (pipeline/temporal.py)
        self.temporal.check(config, components.unet)  # cached attention needs the diffusers UNet's processors
        self._last: StreamResult | None = None
        self._apply_schedule()
        self._apply_noise()
        self._restart()

    # ------------------------------------------------------------------ public API
    @property
    def latency_frames(self) -> int:
        """How many input frames an output lags behind its input: (n - 1) * fbs with Stream Batch, else 0."""
        if not self.config.use_denoising_batch:
            return 0
        return (self.config.steps - 1) * self.config.frame_buffer_size

    @property
    def prompt_encoder(self) -> PromptEncoder:
        """The pipeline's prompt encoder (cache statistics, direct encodes for blends)."""
        return self._prompts

    def prepare(self, prompt: PromptSpec = "", negative_prompt: PromptSpec = "") -> None:
        """Encode the prompts and restart the stream (buffers, warm-up, similarity filter)."""
        self._prompt = prompt
        self._cond = self._prompts.resolve(prompt, self.config.prompt_interpolation)
        self._uncond = self._prompts.resolve(negative_prompt, self.config.prompt_interpolation)
        self._conditioning_cache.clear()
        self._similarity.reset(seed=_first_seed(self.config))
        self._restart()

    def update(self, *, prompt: PromptSpec | None = None, negative_prompt: PromptSpec | None = None,
               style_images: StyleImages | None = None, **config_changes: object) -> None:
        """Change any subset of prompt, negative_prompt and StreamConfig fields between frames.

        Prompt, guidance, delta, seed, t_index_list, CFG mode and similarity settings apply to the next
        frame without a restart. A different number of steps or a change of size, frame_buffer_size or
        use_denoising_batch restarts the stream (the next outputs are warm-up again).
        """
        unknown = set(config_changes) - _CONFIG_FIELDS
        if unknown:
            raise ConfigError(
                f"unknown pipeline setting(s) {sorted(unknown)}; known: prompt, negative_prompt, style_images, "
                f"{', '.join(sorted(_CONFIG_FIELDS))}"
            )
        old = self.config
        new = old.replace(**config_changes) if config_changes else old
        live_weights(self.components.live_loras, new.lora_weights)  # refuses an adapter this model lacks
        self.control.check(new)
        self.temporal.check(new, self.components.unet)
        self.style.update(new, style_images)  # style images set, then style_blend chosen (pipeline/style_images.py)
        self.config = new
        if prompt is not None or new.prompt_interpolation != old.prompt_interpolation:
            self._prompt = self._prompt if prompt is None else prompt
            self._cond = self._prompts.resolve(self._prompt, new.prompt_interpolation)
            self._conditioning_cache.clear()
        if negative_prompt is not None:
            self._uncond = self._prompts.resolve(negative_prompt, new.prompt_interpolation)
            self._conditioning_cache.clear()
        if (new.t_index_list, new.num_inference_steps) != (old.t_index_list, old.num_inference_steps):
            self._apply_schedule()
        restart = any(getattr(new, f) != getattr(old, f) for f in _RESTART_FIELDS) or new.steps != old.steps
        if restart or (new.seed, new.seed_interpolation) != (old.seed, old.seed_interpolation):
            self._apply_noise()
        if restart:
            self._conditioning_cache.clear()
            self._restart()
        self._similarity.configure(new.similarity_threshold, new.max_skip_frames)

    def set_style_image(self, name: str, rgb: np.ndarray) -> None:
        """Add or replace the IP-Adapter style image `name`: (H, W, 3) uint8 RGB, top row first (style_images.py)."""
        self.style.set_image(name, rgb)
        self.style.adopt(self.config.style_blend)  # a starting style_blend applies once its styles are all set

    def scene_cut(self) -> None:
        """A scene cut (camera cut, level load, teleport): no output or motion from before it is used by latent
        feedback or motion-guided warping (sdbridge.pipeline.temporal). The Stream Batch buffers run on."""
        self.temporal.scene_cut(self._calls)

    @torch.inference_mode()
    def __call__(self, image: np.ndarray | torch.Tensor) -> StreamResult:
        """img2img on one frame (or frame_buffer_size frames); see StreamResult for the flags."""
        staged = self._stage(image, batched=self.config.use_denoising_batch)
        if isinstance(staged, StreamResult):
            return staged
        if staged.request is None:  # sequential reference
            latents = self._denoise_sequential(staged.x, staged.ref)
            return self._output(latents, False, staged.timer)
        return self.complete(staged, self.run_unet(staged.request))

    @torch.inference_mode()
    def stage(self, image: np.ndarray | torch.Tensor) -> StreamResult | StagedFrame:
        """First half of a Stream Batch call: preprocess, similarity filter, VAE encode, the UNet inputs.

        Returns a finished result when the similarity filter skips the frame; otherwise a StagedFrame
        whose `request` the caller runs through the UNet (possibly concatenated with other pipelines'
        requests on the same components: see sdbridge.pipeline.shared_batch), then `complete`s.
        """
        if not self.config.use_denoising_batch:
            raise ConfigError("stage()/complete() need use_denoising_batch=True; call the pipeline directly")
        return self._stage(image, batched=True)

    @torch.inference_mode()
    def complete(self, staged: StagedFrame, unet_out: torch.Tensor) -> StreamResult:
        """Second half: guidance, scheduler step, buffers, VAE decode. unet_out: (len(request), C, h, w)."""
        latents, warmup = self.complete_latents(staged, unet_out)
        return self._output(latents, warmup, staged.timer)

    @torch.inference_mode()
    def complete_latents(self, staged: StagedFrame, unet_out: torch.Tensor) -> tuple[torch.Tensor, bool]:
        """complete() up to the VAE decode: (the finished latents (fbs, C, h, w), whether they are warm-up); then
        `finish` with their vae_decode (several pipelines' latents may be decoded as one batch)."""
        if staged.pipeline is not self or staged.request is None:
            raise InputError("complete() got a StagedFrame from another pipeline or a sequential one")
        fbs, n = self.config.frame_buffer_size, self.config.steps
        denoised, ref = self._after_unet(staged.request, unet_out)
        warmup = self._calls < n - 1
        if n > 1:
            self.control.advance(fbs)
            self._x_buffer = schedule.add_noise(denoised[:-fbs], self._noise[fbs:], self._alpha[fbs:],
                                                self._beta[fbs:]).to(self._dtype)
            self._ref_buffer = ref[:-fbs]
        return denoised[-fbs:].to(self._dtype), warmup

    @torch.inference_mode()
    def stage_input(self, image: np.ndarray | torch.Tensor) -> StreamResult | StagedFrame | PendingFrames:
        """stage() up to the VAE encode: the frames to encode (several pipelines' frames may be encoded as one
        batch, then each `stage_encoded`: sdbridge.pipeline.shared_batch), a skipped frame's result, or a
        StagedFrame when nothing needs encoding."""
        if not self.config.use_denoising_batch:
            raise ConfigError("stage_input() needs use_denoising_batch=True; call the pipeline directly")
        return self._stage_to(image, batched=True, encode=False)

    def _stage(self, image: np.ndarray | torch.Tensor, batched: bool) -> StreamResult | StagedFrame:
        staged = self._stage_to(image, batched, encode=True)
        assert not isinstance(staged, PendingFrames)
        return staged

    def _stage_to(self, image: np.ndarray | torch.Tensor, batched: bool,
                  encode: bool) -> StreamResult | StagedFrame | PendingFrames:
        self._require_prepared()
        cfg, timer = self.config, self._clock.start()
        if cfg.txt2img:  # StreamConfig.txt2img: the input is not looked at (the server feeds placeholders)
            return self._stage_txt2img(timer, batched)
        skip, frames = _filter(self, image, timer) if cfg.similarity_filter else (False, None)
        if frames is None and not skip:
            frames = self._to_model(image)
            timer.mark("preprocess")
        self._frames_in += cfg.frame_buffer_size
        if skip and self._last is not None:
            timer.mark("similarity")  # a skip decided on the host queued no device work: its own wall clock
            return dataclasses.replace(self._last, skipped=True, timings=timer.host_timings(),
                                       timings_frame=self._frames_in, frame_index=self._frames_in)
        assert frames is not None
        pending = PendingFrames(self, frames, timer, batched)
        return self.stage_encoded(pending, self.vae_encode(frames)) if encode else pending

    @torch.inference_mode()
    def stage_encoded(self, pending: PendingFrames, x0: torch.Tensor) -> StagedFrame:
        """stage()'s rest once `pending.frames` are encoded; x0: their vae_encode output (fbs, C, h, w)."""
        if pending.pipeline is not self:
            raise InputError("stage_encoded() got PendingFrames from another pipeline")
        timer, fbs = pending.timer, self.config.frame_buffer_size
        timer.mark("vae_encode")
        x0 = self.temporal.stage(x0, pending.frames, self._calls, self.config)  # latent feedback (off: x0 itself)
        x_t = schedule.add_noise(x0, self._noise[:fbs], self._alpha[:fbs], self._beta[:fbs]).to(self._dtype)
        return self._stage_latents(x_t, x0, timer, pending.batched)

    def _to_model(self, image: np.ndarray | torch.Tensor) -> torch.Tensor:
        """`image` checked and uploaded: (fbs, 3, H, W) in [-1, 1], in the memory layout `_layout` gives the VAE."""
        cfg = self.config
        layout = getattr(self.components.unet, "memory_format", None) or (
            torch.channels_last if cfg.channels_last else torch.contiguous_format)
        return to_model_tensor(image, cfg.width, cfg.height, cfg.frame_buffer_size, self._device, self._dtype, layout)

    def _stage_latents(self, x_t: torch.Tensor, ref: torch.Tensor, timer: FrameTimer, batched: bool) -> StagedFrame:
        self.control.stage(batched)
        if not batched:
            return StagedFrame(self, None, x_t, ref, timer)
        n = self.config.steps
        if n > 1:  # a restart's buffers are the worker thread's; this call drops them (pipeline/streams.py)
            streams.used_here(self._x_buffer, self._ref_buffer)
        x = torch.cat([x_t, self._x_buffer]) if n > 1 else x_t  # (n*fbs, C, h, w)
        x = self.temporal.warp_batched(x, self._calls, self._noise, self._alpha, self._beta, self.config)
        ref = torch.cat([ref, self._ref_buffer]) if n > 1 else ref
        return StagedFrame(self, self._unet_request(x, ref, 0, len(x)), x, ref, timer)

    def _stage_txt2img(self, timer: FrameTimer, batched: bool) -> StagedFrame:
        """Fresh seeded noise staged like a frame's latents (txt2img: the residual noise at step 0 is x_t)."""
        fbs = self.config.frame_buffer_size
        self._frames_in += fbs
        shape = (fbs, self.components.latent_channels, *self._latent_hw)
        x_t = torch.randn(shape, generator=self._txt2img_generator, dtype=torch.float32).to(self._device, self._dtype)
        ref = schedule.predict_x0(x_t, x_t, self._alpha[:fbs], self._beta[:fbs]).to(self._dtype)  # noise == x_t
        timer.mark("preprocess")
        return self._stage_latents(x_t, ref, timer, batched)

    @torch.inference_mode()
    def txt2img(self) -> StreamResult:
        """Generate from the prompt alone (fresh seeded noise per call); same latency and flags as img2img."""
        self._require_prepared()
        timer = self._clock.start()
        staged = self._stage_txt2img(timer, self.config.use_denoising_batch)
        if staged.request is None:
            return self._output(self._denoise_sequential(staged.x, staged.ref), False, timer)
        return self.complete(staged, self.run_unet(staged.request))

    # ------------------------------------------------------------------ denoising
    def _output(self, latents: torch.Tensor, warmup: bool, timer: FrameTimer) -> StreamResult:
        """Decode finished latents (fbs, C, h, w) into the result."""
        timer.mark("unet")
        return self.finish(latents, warmup, timer, self.vae_decode(latents))

    def finish(self, latents: torch.Tensor, warmup: bool, timer: FrameTimer,
               decoded: torch.Tensor) -> StreamResult:
        """The result from finished latents and their vae_decode output `decoded` (fbs, 3, H, W)."""
        timer.mark("vae_decode")
        image = _device_image(decoded) if self.image_on_device else to_uint8(decoded)
        timer.mark("postprocess")
        self.temporal.record_output(latents, self._calls, self.config)
        self._calls += 1
        timings, timings_frame = self._clock.finish(timer, self._frames_in)  # CUDA: an earlier frame's
        result = StreamResult(image=image, is_warmup=warmup, skipped=False, timings=timings,
                              timings_frame=timings_frame, latents=latents, frame_index=self._frames_in)
        self._last = result
        return result

    def _denoise_sequential(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """The reference: n UNet calls, one per step, with the same per-step noise as Stream Batch."""
        fbs, n = self.config.frame_buffer_size, self.config.steps
        denoised = x
        for i in range(n):
            lo, hi = i * fbs, (i + 1) * fbs
            x = self.temporal.warp_step(x, i, self._calls, self._noise[lo:hi], self._alpha[lo:hi],
                                        self._beta[lo:hi], self.config)
            denoised, ref = self._predict(x, ref, lo, hi)
            if i < n - 1:
                x = schedule.add_noise(denoised, self._noise[hi:hi + fbs], self._alpha[hi:hi + fbs],
                                       self._beta[hi:hi + fbs]).to(self._dtype)
        return denoised.to(self._dtype)

    def _predict(self, x: torch.Tensor, ref: torch.Tensor, lo: int, hi: int) -> tuple[torch.Tensor, torch.Tensor]:
        """UNet + guidance + consistency step for slots lo:hi. x, ref: (hi - lo, C, h, w)."""
        request = self._unet_request(x, ref, lo, hi)
        return self._after_unet(request, self.run_unet(request))

    def _unet_request(self, x: torch.Tensor, ref: torch.Tensor, lo: int, hi: int) -> UnetRequest:
        """The UNet batch for slots lo:hi: `negatives` negative-prompt samples, then hi - lo positive ones."""
        mode, fbs, m = self.config.cfg_mode, self.config.frame_buffer_size, hi - lo
        negatives = m if mode is CfgMode.FULL else (fbs if mode is CfgMode.INITIALIZE and lo == 0 else 0)
        t = self._timesteps[lo:hi]
        sample = torch.cat([x[:negatives], x]) if negatives else x
        sample_t = torch.cat([t[:negatives], t]) if negatives else t
        embeds, added = self._conditioning(m, negatives)
        added = self.style.added(added, m, negatives)  # IP-Adapter image_embeds (None without an adapter)
        control = self.control.inputs(lo, hi, negatives, self.config)
        return UnetRequest(sample, sample_t, embeds, added, x, ref, lo, hi, negatives, control)

    def run_unet(self, request: UnetRequest) -> torch.Tensor:
        """The UNet output (len(request), C, h, w) for this pipeline's request (with the cached-attention bank of
        its rows when on: sdbridge.pipeline.cached_attention)."""
        with self.temporal.bank.rows(self.components.unet, self._calls, request.lo, request.hi, request.negatives,
                                     self.config):
            return self.call_unet(request.sample, request.timesteps, request.embeds, request.added, request.control)

    def call_unet(self, sample: torch.Tensor, timesteps: torch.Tensor, embeds: torch.Tensor,
                  added: dict | None, control: ControlInputs | None = None) -> torch.Tensor:
        """One UNet call: sample (B, C, h, w), timesteps (B,), embeds (B, L, D) -> (B, C, h, w); `control`: the
        ControlNets' inputs, batch-aligned with sample (their residuals go into the UNet)."""
        live = self.components.live_loras
        if live is not None:  # the shared UNet's live LoRAs at this pipeline's weights (pipeline/live_lora.py)
            live.apply(live.weights(self.config.lora_weights))
        self.style.apply_scale(self.config)  # the shared UNet's IP-Adapter scale at this pipeline's
        extra = {} if control is None else control.unet_kwargs(self._layout(sample), timesteps, embeds, added)
        return self.components.unet(self._layout(sample), timesteps, encoder_hidden_states=embeds,  # type: ignore[misc]
                                    added_cond_kwargs=added, return_dict=False, **extra)[0]

    def _after_unet(self, request: UnetRequest, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Guidance and the consistency step from the UNet output of `request`: (denoised, ref), (m, C, h, w).
        Computed in float32 (schedule.wide) for half-precision models; denoised is returned in float32."""
        cfg, x, ref, lo, hi, negatives = self.config, request.x, request.ref, request.lo, request.hi, request.negatives
        a, b = self._alpha[lo:hi], self._beta[lo:hi]
        sample_a = torch.cat([a[:negatives], a]) if negatives else a
        sample_b = torch.cat([b[:negatives], b]) if negatives else b
        eps_all = schedule.to_epsilon(out, request.sample, sample_a, sample_b, self.components.schedule.prediction_type)
        eps_cond = eps_all[negatives:]
        if cfg.cfg_mode is CfgMode.NONE:
            eps = eps_cond
        elif cfg.cfg_mode is CfgMode.FULL:
            eps = guidance.combine(eps_cond, eps_all[:negatives], cfg.guidance_scale)
        else:
            if negatives:  # INITIALIZE at step 0: the negative prompt's prediction defines the reference
                ref = ref.clone()
                ref[:negatives] = schedule.predict_x0(x[:negatives], eps_all[:negatives], a[:negatives], b[:negatives])
            eps_neg = cfg.delta * guidance.residual_noise(x, ref, a, b)
            eps = guidance.combine(eps_cond, eps_neg, cfg.guidance_scale)
        denoised = schedule.consistency_step(x, eps, a, b, self._c_skip[lo:hi], self._c_out[lo:hi])
        return denoised, ref

    def _conditioning(self, m: int, negatives: int) -> tuple[torch.Tensor, dict | None]:
        """Text conditioning for a UNet batch of `negatives` negative samples followed by m positive ones."""
        key = (m, negatives)
        hit = self._conditioning_cache.get(key)
        if hit is not None:
            return hit
        assert self._cond is not None and self._uncond is not None
        parts = [(self._uncond, negatives), (self._cond, m)]
        embeds = torch.cat([e.embeds.expand(k, -1, -1) for e, k in parts if k])  # (negatives + m, L, D)
        added = None
        if self.components.family is ModelFamily.SDXL:
            pooled = torch.cat([e.pooled.expand(k, -1) for e, k in parts if k])  # type: ignore[union-attr]
            h, w = self.config.height, self.config.width
            time_ids = torch.tensor([[h, w, 0, 0, h, w]], device=self._device, dtype=self._dtype)
            added = {"text_embeds": pooled, "time_ids": time_ids.expand(negatives + m, -1).contiguous()}  # engines
        self._conditioning_cache[key] = (embeds, added)
        return embeds, added

    # ------------------------------------------------------------------ VAE
    def vae_encode(self, frames: torch.Tensor) -> torch.Tensor:
        """Scaled latents (B, C, h, w) of model-input frames (B, 3, H, W) (any B: frames of several pipelines)."""
        encoded = self.components.vae.encode(self._layout(frames))  # type: ignore[union-attr]
        tiny = self.components.vae_choice is VaeChoice.TAESD
        latents = encoded.latents if tiny else encoded.latent_dist.mean  # KL: the mean, deterministic
        return latents * self.components.vae_scaling

    def vae_decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) in [-1, 1] of scaled latents (B, C, h, w) (any B: several pipelines')."""
        vae = self.components.vae
        decoded = vae.decode(self._layout(latents / self.components.vae_scaling), return_dict=False)[0]  # type: ignore
        return decoded  # (B, 3, H, W), channels_last or not: to_uint8 reads either

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) in the memory layout the convolutions run fastest on (see StreamConfig.channels_last),
        or the one an accelerated backend's engines bind without a copy (Runners.memory_format: NCHW)."""
        engine_layout = getattr(self.components.unet, "memory_format", None)
        if engine_layout is not None:
            return x.contiguous(memory_format=engine_layout)
        return x.contiguous(memory_format=torch.channels_last) if self.config.channels_last else x

    # ------------------------------------------------------------------ precomputation
    def _apply_schedule(self) -> None:
        """Precompute timesteps and per-slot coefficients (shape (n*fbs, 1, 1, 1), float32: the dtype of the
        scheduler glue whatever the model's) for t_index_list."""
        cfg = self.config
        ladder = schedule.lcm_timesteps(self.components.schedule, cfg.num_inference_steps)
        coef = schedule.step_coefficients(self.components.schedule, [ladder[i] for i in cfg.t_index_list])
        per_slot: Callable[[torch.Tensor], torch.Tensor] = lambda v: (  # noqa: E731
            v.repeat_interleave(cfg.frame_buffer_size).to(self._device, torch.float32).view(-1, 1, 1, 1))
        self._timesteps = coef.timesteps.repeat_interleave(cfg.frame_buffer_size).to(self._device)
        self._alpha, self._beta = per_slot(coef.alpha), per_slot(coef.beta)
        self._c_skip, self._c_out = per_slot(coef.c_skip), per_slot(coef.c_out)

    def _apply_noise(self) -> None:
        """Per-step noise (n*fbs, C, h, w) from the seed or a weighted blend of seeds."""
        cfg = self.config
        factor = self.components.vae_scale_factor
        self._latent_hw = (cfg.height // factor, cfg.width // factor)
        shape = (cfg.steps * cfg.frame_buffer_size, self.components.latent_channels, *self._latent_hw)
        self._noise = _seed_noise(cfg, shape).to(self._device, self._dtype)
        self._txt2img_generator = torch.Generator().manual_seed(_first_seed(cfg))

    def _restart(self) -> None:
        """Empty the stream-batch buffers: the next n - 1 outputs are warm-up."""
        cfg = self.config
        shape = ((cfg.steps - 1) * cfg.frame_buffer_size, self.components.latent_channels, *self._latent_hw)
        self._x_buffer = torch.zeros(shape, device=self._device, dtype=self._dtype)
        self._ref_buffer = torch.zeros(shape, device=self._device, dtype=self._dtype)
        self._calls = 0
        self._frames_in = 0
        self._last = None
        self._clock.reset()
        self.control.restart(cfg, self._latent_hw)
        self.temporal.restart()

    def _require_prepared(self) -> None:
        if self._cond is None:
            raise InputError("call pipe.prepare(prompt=..., negative_prompt=...) before the first frame")


@dataclasses.dataclass(frozen=True)
class UnetRequest:
    """One pipeline's UNet batch: what the UNet gets, and what `complete` needs to finish the step."""

    sample: torch.Tensor  # (negatives + m, C, h, w)
    timesteps: torch.Tensor  # (negatives + m,)
    embeds: torch.Tensor  # (negatives + m, L, D)
    added: dict | None  # SDXL text_embeds / time_ids, batch-aligned with sample
    x: torch.Tensor  # (m, C, h, w) noisy latents of the m slots
    ref: torch.Tensor  # (m, C, h, w) RCFG reference latents
    lo: int
    hi: int
    negatives: int
    control: ControlInputs | None = None  # the ControlNets' inputs, batch-aligned with sample

    def __len__(self) -> int:
        return self.sample.shape[0]


@dataclasses.dataclass(frozen=True)
class StagedFrame:
    """A frame between StreamPipeline.stage and .complete (request is None for the sequential path)."""

    pipeline: StreamPipeline
    request: UnetRequest | None
    x: torch.Tensor
    ref: torch.Tensor
    timer: FrameTimer


def _filter(pipe: StreamPipeline, image: np.ndarray | torch.Tensor,
            timer: FrameTimer) -> tuple[bool, torch.Tensor | None]:
    """The similarity filter's skip verdict on `image`, with the model tensor when deciding needed it.

    uint8 pixels in host memory (the server's frames) are decided on a host thumbnail before any upload;
    anything else is uploaded (and checked) first and decided one frame late (SimilarityFilter.late).
    The first frame after a restart is always processed (it becomes the reference).
    """
    cfg = pipe.config
    pixels = image.numpy() if isinstance(image, torch.Tensor) and image.device.type == "cpu" \
        and image.dtype == torch.uint8 else image
    fbs, frame = cfg.frame_buffer_size, (cfg.height, cfg.width, 3)
    if isinstance(pixels, np.ndarray) and pixels.dtype == np.uint8 and (
            pixels.shape == (fbs, *frame) or (fbs == 1 and pixels.shape == frame)):
        signature = thumbnail(pixels)
        timer.mark("preprocess")
        if pipe._last is None:
            pipe._similarity.remember(signature)
            return False, None
        return pipe._similarity(signature).skip, None
    frames = pipe._to_model(image)
    timer.mark("preprocess")
    # not run on a GPU here: a CUDA frame's cosine lands in pinned memory, this event says when
    event = torch.cuda.Event() if frames.device.type == "cuda" else None
    return pipe._similarity.late(frames, event).skip and pipe._last is not None, frames


def _device_image(decoded: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] -> uint8 (H, W, 3) (or (B, H, W, 3)) on its device, contiguous."""
    pixels = to_uint8_tensor(decoded)
    return pixels[0] if pixels.shape[0] == 1 else pixels


@dataclasses.dataclass(frozen=True)
class PendingFrames:
    """A frame between StreamPipeline.stage_input and .stage_encoded: preprocessed, not yet VAE-encoded."""

    pipeline: StreamPipeline
    frames: torch.Tensor  # (fbs, 3, H, W) model input
    timer: FrameTimer
    batched: bool


def _seed_noise(cfg: StreamConfig, shape: tuple[int, ...]) -> torch.Tensor:
    """Float32 noise of `shape` from the seed or a weighted blend of seeds (cfg.seed_interpolation)."""
    seeds = [(cfg.seed, 1.0)] if isinstance(cfg.seed, int) else list(cfg.seed)
    noises = [torch.randn(shape, generator=torch.Generator().manual_seed(s), dtype=torch.float32)
              for s, _ in seeds]
    weights = [w for _, w in seeds]
    if len(noises) == 1:
        return noises[0]
    if cfg.seed_interpolation is Interpolation.LINEAR:
        return blend(noises, weights, Interpolation.LINEAR, preserve_variance=True)
    flat = [n.reshape(1, -1) for n in noises]  # slerp whole tensors: keeps the norm of unit noise
    return blend(flat, weights, Interpolation.SLERP, dim=-1).reshape(shape)


def _first_seed(cfg: StreamConfig) -> int:
    return cfg.seed if isinstance(cfg.seed, int) else cfg.seed[0][0]

