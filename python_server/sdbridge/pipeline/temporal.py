"""One pipeline's temporal state: latent feedback, motion-guided warping and scene cuts (`pipe.temporal`).

Frames are numbered by call since the stream's last restart (the pipeline's `_calls` when the frame is staged;
a frame the similarity filter skips gets no number). With n denoising steps, frame f's denoising draws on the
output of frame f - n + k at step k: the newest output Stream Batch has finished when frame f reaches step k.
The sequential path uses the very same output, so Stream Batch still equals the sequential reference.

- Latent feedback (`StreamConfig.latent_feedback` s in [0, 0.5]): frame f's input latent x0 becomes
  x0 + s * (out[f - n] - x0) before it is noised (it is also the RCFG reference). s = 0 does nothing.
- Motion-guided warping (`motion_warp` strength, `motion_warp_step` k, clamped to the last step): out[f - n + k]
  is warped to frame f with the motion of the frames in between (`set_motion`; sdbridge.pipeline.temporal_warp
  holds the convention), noised to step k's timestep with the slot's own noise, and blended into frame f's
  latent entering step k where its surface was visible (the disocclusion mask). With k = n - 1 (the last step)
  the source is the previous frame and one frame's motion is used exact; an earlier step composes the motions of
  n - k frames. A frame without motion (or a chain through one) gets no warp. Needs frame_buffer_size 1. The
  motions of frames the similarity filter skips are composed into the next staged frame's (set one per frame).
- Scene cuts: `scene_cut` (the pipeline's `scene_cut()`, which a client's Frame flag runs) or `reset` (the same cut
  before the next frame to be staged) drops every output, motion and banked attention feature before the cut; a
  frame whose pixels (pooled to the latent grid, each channel centred) correlate with the previous frame's below
  `scene_cut_threshold` (0: off) gates every blend across it to 0 (on the device, no host synchronisation).
- Cached attention (`bank`, sdbridge.pipeline.cached_attention): its feature bank lives here so that cuts reset it
  too; a detected cut masks the banked frames before it. With `attention_bank_warp` the staged frames' latent
  flows go to the bank too (sdbridge.pipeline.bank_warp), which warps its banked frames with them.

Nothing here is shared between pipelines. Memory is bounded: outputs and motions of the last n + 1 frames.
With every strength 0 nothing is computed, stored or changed: the pipeline's output is bit-identical.
The worker sets the motion from a Frame's Motion and Depth planes (runtime.control_inputs, before the frame is
staged). Not run on a GPU here.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional

from sdbridge.errors import InputError
from sdbridge.pipeline import cached_attention, streams, temporal_warp
from sdbridge.pipeline.config import StreamConfig

#: Motions kept for one staged frame (frames skipped in a row + 1); at the limit the chain is broken.
_MAX_PENDING = 16


@dataclass(frozen=True)
class _Frame:
    """What one staged frame leaves for later frames (tensors on the model's device, float32)."""

    keep: torch.Tensor | None  # (1, 1, 1, 1): 0 when this frame is a detected cut; None: not checked
    flow: torch.Tensor | None  # (1, 2, h, w) cells, this frame -> the previous one; None: no motion given
    valid: torch.Tensor | None  # (1, 1, h, w) disocclusion mask of `flow`


@dataclass(frozen=True)
class _Motion:
    motion: torch.Tensor  # (1, 2, H, W) pixels, current -> previous
    depth: torch.Tensor | None  # (1, 1, H, W) linear
    forward: torch.Tensor | None  # (1, 2, H, W) pixels, previous -> current


class TemporalState:
    """Latent feedback, motion-guided warping and scene cuts of one pipeline (see the module docstring)."""

    def __init__(self, vae_factor: int, device: torch.device) -> None:
        self._factor, self._device = vae_factor, device
        self._outputs: dict[int, torch.Tensor] = {}  # frame number -> its output latent (fbs, C, h, w)
        self._frames: dict[int, _Frame] = {}
        self._last: torch.Tensor | None = None  # (1, 3*h*w) the previous frame, pooled and centred (cut test)
        self._pending: list[_Motion] = []  # the motions set since the last staged frame (skipped frames' first)
        self._depth: tuple[int, torch.Tensor | None] = (-1, None)  # the last frame with motion and its latent depth
        self._cut_at = 0  # no frame before this one is a source
        self._next = 0  # the number of the next frame to be staged (where `reset` puts the cut)
        self.bank = cached_attention.AttentionBank()  # cached attention's feature bank (pipeline/cached_attention.py)

    # ------------------------------------------------------------------ inputs
    def set_motion(self, motion: torch.Tensor, depth: torch.Tensor | None = None,
                   forward: torch.Tensor | None = None) -> None:
        """The motion of the next frame: motion (2, H, W) or (1, 2, H, W) pixels, current -> previous frame, +x
        right, +y down (sdbridge.pipeline.temporal_warp); depth (H, W) or (1, 1, H, W) linear view depth; forward
        (2, H, W): previous -> current (for the forward/backward test). Tensors. Set it before every frame: the
        motions of frames the similarity filter skips are composed into the next staged frame's."""
        planes = [_batched(motion, 3), None if depth is None else _batched(depth, 2 if depth.dim() == 2 else 3),
                  None if forward is None else _batched(forward, 3)]
        for name, plane, channels in zip(("motion", "depth", "forward"), planes, (2, 1, 2), strict=True):
            if plane is not None and (plane.shape[:2] != (1, channels) or plane.shape[2:] != planes[0].shape[2:]):
                raise InputError(f"{name} has shape {tuple(plane.shape)}; expected (1, {channels}, H, W) with the "
                                 f"motion's H, W {tuple(planes[0].shape[2:])}")
        moved = [None if p is None else p.to(self._device, torch.float32) for p in planes]
        assert moved[0] is not None
        self._pending.append(_Motion(moved[0], moved[1], moved[2]))
        del self._pending[:-_MAX_PENDING]  # a longer gap loses its oldest hop: no warp across it (see _hops)

    def scene_cut(self, calls: int) -> None:
        """A scene cut before the frame staged at `calls`: no earlier output, motion or banked feature is used
        again."""
        self._drop(calls)
        self._last = None
        self._depth = (-1, None)
        self.bank.clear()

    def reset(self) -> None:
        """A scene cut before the next frame to be staged (the client's scene-cut flag): `scene_cut` there."""
        self.scene_cut(self._next)

    def _drop(self, calls: int) -> None:
        """Latent feedback's and warping's state dropped before frame `calls` (the cut test and the bank are kept)."""
        self._cut_at = calls
        self._outputs.clear()
        self._frames.clear()

    def restart(self) -> None:
        """The stream restarted (frame numbers start at 0 again): forget everything but the pending motions."""
        self.scene_cut(0)
        self._next = 0

    @property
    def held(self) -> int:
        """How many frames' tensors (outputs and motion records) are held now (bounded by 2 * (n + 1))."""
        return len(self._outputs) + len(self._frames)

    @staticmethod
    def check(cfg: StreamConfig, unet: object) -> None:
        """Refuse a method this UNet cannot carry (cached attention on an engine or compiled UNet: ConfigError)."""
        cached_attention.check(cfg, unet)

    @staticmethod
    def active(cfg: StreamConfig) -> bool:
        """True when a temporal method is on for img2img (every strength 0 or txt2img: nothing is done)."""
        return (cfg.latent_feedback > 0 or cfg.motion_warp > 0) and not cfg.txt2img

    # ------------------------------------------------------------------ pipeline hooks
    def stage(self, x0: torch.Tensor, frames: torch.Tensor, calls: int, cfg: StreamConfig) -> torch.Tensor:
        """Frame `calls`'s input latent x0 (fbs, C, h, w) with the feedback blended in; records the frame.
        frames: the model-input frames x0 encodes (fbs, 3, H, W), for the scene-cut test."""
        pending, self._pending, self._next = self._pending, [], calls + 1
        for m in pending:  # set on the worker thread's stream, dropped here (pipeline/streams.py)
            streams.used_here(m.motion, m.depth, m.forward)
        checked = self.active(cfg) or cfg.attention_bank > 0
        keep = self._cut_gate(frames, cfg.scene_cut_threshold if checked else 0.0)  # off: forgets the last frame
        flow = valid = None
        if pending and (cfg.motion_warp > 0 or cached_attention.warps(cfg)) and not cfg.txt2img:
            frame, depth = self._depth
            flow, valid, depth = self._hops(pending, depth if frame == calls - 1 else None)
            self._depth = (calls, depth)
        self.bank.note_frame(calls, keep, cfg, flow, valid)  # a detected cut masks the banked frames before it
        if not self.active(cfg):
            self._drop(calls)  # nothing kept while off (stale tensors could be overwritten buffers)
            return x0
        self._frames[calls] = _Frame(keep, flow, valid)
        for table in (self._outputs, self._frames):  # bounded: nothing older than n frames is a source
            for old in [i for i in table if i < calls - cfg.steps]:
                del table[old]
        source = calls - cfg.steps
        if cfg.latent_feedback > 0 and source >= self._cut_at and source in self._outputs:
            weight = cfg.latent_feedback * self._keep(source, calls)
            x0 = (x0.float() + weight * (self._outputs[source].float() - x0.float())).to(x0.dtype)
        return x0

    def warp_batched(self, x: torch.Tensor, calls: int, noise: torch.Tensor, alpha: torch.Tensor,
                     beta: torch.Tensor, cfg: StreamConfig) -> torch.Tensor:
        """Stream Batch: x (n, C, h, w), slot k = frame calls - k at step k; the warp step's slot blended."""
        if not (self.active(cfg) and cfg.motion_warp > 0):
            return x
        k = min(cfg.motion_warp_step, cfg.steps - 1)
        blended = self._warp_into(x[k:k + 1], calls - k, k, noise[k:k + 1], alpha[k:k + 1], beta[k:k + 1], cfg)
        return x if blended is None else torch.cat([x[:k], blended, x[k + 1:]])

    def warp_step(self, x: torch.Tensor, step: int, calls: int, noise: torch.Tensor, alpha: torch.Tensor,
                  beta: torch.Tensor, cfg: StreamConfig) -> torch.Tensor:
        """Sequential path: frame `calls`'s latent x (1, C, h, w) entering `step` (noise, alpha, beta: that step's)."""
        if not (self.active(cfg) and cfg.motion_warp > 0) or step != min(cfg.motion_warp_step, cfg.steps - 1):
            return x
        blended = self._warp_into(x, calls, step, noise, alpha, beta, cfg)
        return x if blended is None else blended

    def record_output(self, latents: torch.Tensor, calls: int, cfg: StreamConfig) -> None:
        """The pipeline's `calls`-th output latents (fbs, C, h, w) (warm-up ones included, then ignored)."""
        if not self.active(cfg):
            return
        frame = calls - (cfg.steps - 1 if cfg.use_denoising_batch else 0)
        if frame >= self._cut_at:
            self._outputs[frame] = latents.detach().clone()  # the caller's buffer may be overwritten later

    # ------------------------------------------------------------------ internals
    def _hops(self, pending: list[_Motion], previous_depth: torch.Tensor | None,
              ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """(flow, disocclusion mask, depth) at latent resolution from the staged frame to the last staged one: one
        hop per motion set since (skipped frames' hops composed, the newest first). No flow after a long gap."""
        if len(pending) == _MAX_PENDING:
            return None, None, None
        hops = []
        for motion in pending:  # oldest first: each hop's depth test uses the frame before it
            flow = temporal_warp.latent_flow(motion.motion, self._factor)
            depth = None if motion.depth is None else temporal_warp.latent_depth(motion.depth, self._factor)
            forward = None if motion.forward is None else temporal_warp.latent_flow(motion.forward, self._factor)
            hops.append((flow, temporal_warp.disocclusion_mask(flow, depth, previous_depth, forward)))
            previous_depth = depth
        flow, valid = hops[-1]
        for older_flow, older_valid in reversed(hops[:-1]):
            flow, valid = temporal_warp.compose(flow, valid, older_flow, older_valid)
        return flow, valid, previous_depth

    def _warp_into(self, x: torch.Tensor, frame: int, step: int, noise: torch.Tensor, alpha: torch.Tensor,
                   beta: torch.Tensor, cfg: StreamConfig) -> torch.Tensor | None:
        """x (1, C, h, w) of `frame` entering `step`, blended with the warped source; None: no source / motion."""
        source = frame + step - cfg.steps
        if frame < 0 or source < self._cut_at or source not in self._outputs:
            return None
        chain = [self._frames.get(i) for i in range(frame, source, -1)]  # frame, frame - 1, ..., source + 1
        if any(c is None or c.flow is None or c.valid is None for c in chain):
            return None
        flow, valid = chain[0].flow, chain[0].valid  # type: ignore[union-attr]
        for older in chain[1:]:
            flow, valid = temporal_warp.compose(flow, valid, older.flow, older.valid)  # type: ignore[union-attr,arg-type]
        warped, inside = temporal_warp.warp(self._outputs[source], flow)  # type: ignore[arg-type]
        mask = valid * inside * self._keep(source, frame)  # type: ignore[operator]
        target = alpha * warped + beta * noise.float()  # the warped output noised to this step, with x's noise
        weight = cfg.motion_warp * mask
        return (x.float() + weight * (target - x.float())).to(x.dtype)

    def _keep(self, source: int, frame: int) -> torch.Tensor | float:
        """1 when no detected cut lies in frames (source, frame], else 0 (a device tensor when checked)."""
        keep: torch.Tensor | float = 1.0
        for i in range(source + 1, frame + 1):
            record = self._frames.get(i)
            if record is not None and record.keep is not None:
                keep = keep * record.keep
        return keep

    def _cut_gate(self, frames: torch.Tensor, threshold: float) -> torch.Tensor | None:
        """(1, 1, 1, 1): 0 when any of `frames` (fbs, 3, H, W) correlates with its predecessor below `threshold`
        (pixels pooled to the latent grid, each channel centred), else 1; None when not checked."""
        if threshold <= 0:
            self._last = None
            return None
        small = functional.avg_pool2d(frames.detach().float(), self._factor)  # (fbs, 3, h, w)
        small = (small - small.mean((2, 3), keepdim=True)).flatten(1)
        last, self._last = self._last, small[-1:].clone()
        if last is None:
            return None
        seq = torch.cat([last, small])
        corr = functional.cosine_similarity(seq[:-1], seq[1:], dim=1)  # (fbs,) Pearson correlation per channel set
        return (corr.min() >= threshold).float().view(1, 1, 1, 1)


def _batched(plane: torch.Tensor, dims: int) -> torch.Tensor:
    """plane with a leading batch dimension of 1 (a depth (H, W) also gets its channel)."""
    if plane.dim() == 2 and dims == 2:
        return plane[None, None]
    return plane.unsqueeze(0) if plane.dim() == dims else plane
