"""Cached attention (a StreamV2V-style feature bank) and feature injection on the UNet's self-attention layers.

Each self-attention (`attn1`) layer of the diffusers UNet gets a `BankedSelfAttention` processor wrapping the one it
had. While a pipeline with `attention_bank` N > 0 runs the UNet (`AttentionBank.rows`, around the call), the layer's
queries also attend to the keys and values the same layer computed for up to N earlier frames: the ring of banked
frames of the row's own denoising step (Stream Batch slot k banks and reads step k's features, so Stream Batch
equals the sequential reference: frame f at step k sees frames < f at step k either way). A frame is banked when
its number (the pipeline's call count when it was staged) is a multiple of `attention_bank_interval`; only the
positive-prompt rows are banked (negative-prompt rows read the bank). `attention_bank_blocks` picks the layers:
"all", "down", "mid" or "up" (the UNet's down_blocks, mid_block, up_blocks).

Feature injection (`feature_injection` strength s > 0, `feature_injection_threshold` c): each token of the layer's
output is compared (cosine) with every banked output token of its row's step; where the best match is at least
c, the output moves toward it: out + s * (best - out).

Motion (`attention_bank_warp`, with the engine's motion vectors, frame_buffer_size 1): each banked frame's keys and
values are warped to the frame reading them, with the motion accumulated since it was banked, and its disoccluded
tokens are masked out (sdbridge.pipeline.bank_warp); off (the default) leaves the bank as it is.

Scene cuts: `clear()` (the session's scene cut, a restart) drops everything. A cut the server detects on the device
(sdbridge.pipeline.temporal: a 0/1 gate per frame, never read on the host) masks the banked frames before it: their
keys get an additive -inf score (exactly no bank when every banked frame is masked) and their outputs cannot be
matched for injection.

Nothing is shared between pipelines: the processors on a shared UNet are stateless; the bank and the row layout
of the running call belong to the pipeline (thread-local while it runs). Memory is bounded: per layer and step at
most N banked frames (keys, values, outputs: 3 * frame_buffer_size * tokens * channels each). With N = 0 the
processors call the wrapped ones with the same arguments: outputs are bit-identical to a UNet without them.
Several pipelines' requests merged into one UNet call (pipeline/shared_batch.py) cannot carry per-session banks:
`can_share` keeps a pipeline with a bank out of merged batches (it runs its own UNet call).

Only the eager backend's diffusers UNet has attention processors: an ONNX Runtime or TensorRT engine, or a
torch.compile'd UNet, has its attention fixed in the exported or compiled graph, and `check` refuses the bank on it
(ConfigError naming why). Not run on a GPU here: plain torch, the same on any device.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional

from sdbridge.errors import ConfigError
from sdbridge.pipeline.bank_warp import BankMotion, warp_tokens
from sdbridge.pipeline.config import StreamConfig

#: attention_bank_blocks choice -> the processor-name prefixes it selects (None: every self-attention layer)
BLOCK_PREFIXES: dict[str, tuple[str, ...] | None] = {
    "all": None, "down": ("down_blocks.",), "mid": ("mid_block.",), "up": ("up_blocks.",)}


@dataclass(frozen=True)
class _Piece:
    """Consecutive UNet batch rows [start, stop) of one denoising step: their bank and what they bank."""

    start: int
    stop: int
    step: int
    first: int  # the frame-buffer index of row `start` (rows of one step hold frame_buffer_size frames)
    frame: int  # the frame number the rows denoise (< 0: a warm-up slot, not banked and reading nothing)
    write: bool  # bank these rows' features (positive rows of a banked frame)


@dataclass
class _Entry:
    """One banked frame of one layer and step: (fbs, T, C) keys, values and attention outputs."""

    frame: int
    key: torch.Tensor
    value: torch.Tensor
    out: torch.Tensor


@dataclass(frozen=True)
class BankView:
    """What one row piece attends to besides itself: per banked frame (oldest first) its keys and values (R, T, C),
    warped to the reading frame when `attention_bank_warp` is on and its motion is known, its attention outputs
    (unwarped: feature injection is position-free), its detected-cut gate and its per-token keep mask (T,) (None:
    not warped, every token kept)."""

    frames: tuple[int, ...]
    keys: tuple[torch.Tensor, ...]
    values: tuple[torch.Tensor, ...]
    outs: tuple[torch.Tensor, ...]
    gates: tuple[torch.Tensor | float, ...]
    keeps: tuple[torch.Tensor | None, ...]


class _Hub:
    """The running call of a UNet's banked processors (thread-local: one thread runs a given UNet call)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def __deepcopy__(self, memo: dict[int, Any]) -> _Hub:
        """A copied UNet (copy.deepcopy) gets a hub of its own with no running call (a thread-local cannot be
        copied); `install` on the copy ties its processors to the hub it registers."""
        return _Hub()

    @property
    def active(self) -> _Call | None:
        return getattr(self._local, "call", None)

    @active.setter
    def active(self, call: _Call | None) -> None:
        self._local.call = call


_HUBS: weakref.WeakKeyDictionary[torch.nn.Module, _Hub] = weakref.WeakKeyDictionary()


class BankedSelfAttention:
    """A self-attention processor that also attends to the running pipeline's bank (module docstring); without a
    running banked call it is the processor it wraps."""

    def __init__(self, name: str, wrapped: Any, hub: _Hub) -> None:
        self.name, self.wrapped, self._hub = name, wrapped, hub

    def __call__(self, attn: Any, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None,
                 *args: Any, **kwargs: Any) -> torch.Tensor:
        call = self._hub.active
        if (call is None or encoder_hidden_states is not None or attention_mask is not None
                or hidden_states.dim() != 3 or attn.group_norm is not None or attn.spatial_norm is not None
                or not call.selects(self.name)):
            return self.wrapped(attn, hidden_states, encoder_hidden_states, attention_mask, temb, *args, **kwargs)
        pieces = [call.attend(self.name, attn, hidden_states[p.start:p.stop], p) for p in call.pieces]
        out = torch.cat(pieces) if len(pieces) > 1 else pieces[0]
        if attn.residual_connection:
            out = out + hidden_states
        return out / attn.rescale_output_factor


def check(cfg: StreamConfig, unet: Any) -> None:
    """Refuse attention_bank > 0 on a UNet without diffusers attention processors (an engine, a compiled UNet)."""
    if cfg.attention_bank > 0 and not _banks_on(unet):
        raise ConfigError(
            f"attention_bank={cfg.attention_bank} needs the eager backend's diffusers UNet: this UNet "
            f"({type(unet).__name__}) is an exported or compiled graph whose self-attention cannot attend to banked "
            "keys and values (ONNX Runtime / TensorRT engines, torch.compile); set attention_bank=0 or serve with "
            "--accel eager")


def _banks_on(unet: Any) -> bool:
    compiled = getattr(getattr(torch, "_dynamo", None), "eval_frame", None)
    optimized = getattr(compiled, "OptimizedModule", ()) if compiled is not None else ()
    return (isinstance(unet, torch.nn.Module) and not isinstance(unet, optimized)
            and callable(getattr(unet, "set_attn_processor", None)) and hasattr(unet, "attn_processors"))


def install(unet: torch.nn.Module) -> _Hub:
    """Wrap every self-attention processor of `unet` once (idempotent); other processors are kept as they are."""
    hub = _HUBS.get(unet)
    processors = unet.attn_processors  # type: ignore[operator]
    if hub is not None and all(isinstance(p, BankedSelfAttention) and p._hub is hub for n, p in processors.items()
                               if n.endswith("attn1.processor")):
        return hub
    hub = hub or _Hub()  # a deep copy of a banked UNet arrives here: its processors are re-tied to this hub
    wrapped = {n: BankedSelfAttention(n, p.wrapped if isinstance(p, BankedSelfAttention) else p, hub)
               if n.endswith("attn1.processor") else p for n, p in processors.items()}
    unet.set_attn_processor(wrapped)  # type: ignore[operator]
    _HUBS[unet] = hub
    return hub


def unwrap(unet: Any) -> None:
    """Give each banked self-attention layer of `unet` back the processor it wraps. Loading an IP-Adapter needs
    this: diffusers re-creates every self-attention processor from its class with no arguments. The next banked
    UNet call wraps them again (`install` runs around each one)."""
    processors = getattr(unet, "attn_processors", None)
    if processors and any(isinstance(p, BankedSelfAttention) for p in processors.values()):
        unet.set_attn_processor({n: p.wrapped if isinstance(p, BankedSelfAttention) else p
                                 for n, p in processors.items()})


class AttentionBank:
    """One pipeline's feature bank (module docstring): `rows` around each UNet call, `clear` on a cut."""

    def __init__(self) -> None:
        self._store: dict[tuple[str, int], list[_Entry]] = {}  # (layer, step) -> banked frames, oldest first
        self._keeps: dict[int, torch.Tensor] = {}  # frame -> its detected-cut gate (1, 1, 1, 1): 0 = a cut
        self._horizon = 0  # frames older than the newest noted one minus this are forgotten
        self.motion = BankMotion()  # staged frames' latent flows, for attention_bank_warp (pipeline/bank_warp.py)

    @property
    def held(self) -> int:
        """Banked frames held now, over all layers and steps (at most attention_bank * layers * steps)."""
        return sum(len(entries) for entries in self._store.values())

    def clear(self) -> None:
        """Forget every banked frame (a scene cut, a restart, the bank turned off)."""
        self._store.clear()
        self._keeps.clear()
        self.motion.clear()

    def note_frame(self, frame: int, keep: torch.Tensor | None, cfg: StreamConfig,
                   flow: torch.Tensor | None = None, valid: torch.Tensor | None = None) -> None:
        """Frame `frame` is staged; keep: its detected-cut gate (None: not checked); flow, valid: its latent flow to
        the frame before and disocclusion mask (None: no motion), kept when attention_bank_warp is on."""
        self._horizon = cfg.attention_bank * cfg.attention_bank_interval + cfg.steps
        if warps(cfg):
            self.motion.note(frame, flow, valid, self._horizon)
        elif self.motion.held:
            self.motion.clear()
        if keep is not None:
            self._keeps[frame] = keep
        for old in [i for i in self._keeps if i < frame - self._horizon]:
            del self._keeps[old]

    @contextmanager
    def rows(self, unet: Any, calls: int, lo: int, hi: int, negatives: int, cfg: StreamConfig) -> Iterator[None]:
        """Around one UNet call of a request for slots [lo, hi) with `negatives` negative-prompt rows first."""
        if cfg.attention_bank <= 0:
            if self._store:
                self.clear()
            yield
            return
        hub = install(unet)
        hub.active = _Call(self, _pieces(calls, lo, hi, negatives, cfg), cfg)
        try:
            yield
        finally:
            hub.active = None

    def view(self, layer: str, step: int, frame: int, cfg: StreamConfig, rows: slice = slice(None)) -> BankView:
        """The last attention_bank banked frames of (layer, step) before `frame` as frame `frame`'s rows `rows` (of
        the frame buffer) attend to them (BankView)."""
        n = cfg.attention_bank
        entries = [e for e in self._store.get((layer, step), []) if e.frame < frame][-n:] if n and frame >= 0 else []
        keys, values, keeps = [], [], []
        for e in entries:
            key, value, keep = e.key[rows], e.value[rows], None
            moved = self.motion.flow(frame, e.frame, key.shape[1]) if warps(cfg) else None
            if moved is not None:
                key, value, keep = warp_tokens(key, value, *moved)
            keys.append(key)
            values.append(value)
            keeps.append(keep)
        return BankView(tuple(e.frame for e in entries), tuple(keys), tuple(values),
                        tuple(e.out[rows] for e in entries), tuple(self._gate(e.frame, frame) for e in entries),
                        tuple(keeps))

    def _gate(self, source: int, frame: int) -> torch.Tensor | float:
        gate: torch.Tensor | float = 1.0
        for i in range(source + 1, frame + 1):
            keep = self._keeps.get(i)
            if keep is not None:
                gate = gate * keep
        return gate

    def _bank(self, layer: str, step: int, entry: _Entry, n: int) -> None:
        ring = self._store.setdefault((layer, step), [])
        ring.append(entry)
        del ring[:-n]


def _pieces(calls: int, lo: int, hi: int, negatives: int, cfg: StreamConfig) -> tuple[_Piece, ...]:
    """The row pieces of a request for slots [lo, hi): negative rows (slots lo, lo + 1, ...) then positive rows."""
    fbs, batched = cfg.frame_buffer_size, cfg.use_denoising_batch
    pieces = []
    for base, count, positive in ((0, negatives, False), (negatives, hi - lo, True)):
        for slot in range(lo, lo + count):
            step, j = divmod(slot, fbs)
            row, frame = base + slot - lo, calls - step if batched else calls
            write = positive and frame >= 0 and frame % cfg.attention_bank_interval == 0
            last = pieces[-1] if pieces else None
            if last is not None and (last.step, last.stop, last.first + last.stop - last.start, last.write) == (
                    step, row, j, write):
                pieces[-1] = _Piece(last.start, row + 1, step, last.first, frame, write)
            else:
                pieces.append(_Piece(row, row + 1, step, j, frame, write))
    return tuple(pieces)


class _Call:
    """One banked UNet call: the pipeline's bank, the call's row pieces and settings."""

    def __init__(self, bank: AttentionBank, pieces: tuple[_Piece, ...], cfg: StreamConfig) -> None:
        self.bank, self.pieces, self.cfg = bank, pieces, cfg
        self._prefixes = BLOCK_PREFIXES[cfg.attention_bank_blocks]

    def selects(self, layer: str) -> bool:
        return self._prefixes is None or layer.startswith(self._prefixes)

    def attend(self, layer: str, attn: Any, hidden: torch.Tensor, piece: _Piece) -> torch.Tensor:
        """Self-attention of rows (R, T, C) over themselves and their step's bank, then injection; before the
        residual connection and output rescale (the caller's)."""
        cfg = self.cfg
        query, key, value = attn.to_q(hidden), attn.to_k(hidden), attn.to_v(hidden)
        bank = self.bank.view(layer, piece.step, piece.frame, cfg, slice(piece.first, piece.first + len(hidden)))
        all_keys = torch.cat([key, *bank.keys], 1)
        all_values = torch.cat([value, *bank.values], 1)
        mask = _mask(bank.gates, bank.keeps, key.shape[1], hidden)
        out = attn.to_out[1](attn.to_out[0](_heads_attention(attn, query, all_keys, all_values, mask)))
        if cfg.feature_injection > 0 and bank.outs:
            out = _inject(out, torch.cat(bank.outs, 1), list(bank.gates), key.shape[1], cfg)
        if piece.write:
            self.bank._bank(layer, piece.step, _Entry(piece.frame, key.detach(), value.detach(), out.detach()),
                            cfg.attention_bank)
        return out


def _heads_attention(attn: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                     mask: torch.Tensor | None) -> torch.Tensor:
    """diffusers AttnProcessor2_0's multi-head scaled dot-product attention (norm_q / norm_k included)."""
    batch, heads = query.shape[0], attn.heads
    head_dim = key.shape[-1] // heads
    q = query.view(batch, -1, heads, head_dim).transpose(1, 2)
    k = key.view(batch, -1, heads, head_dim).transpose(1, 2)
    v = value.view(batch, -1, heads, head_dim).transpose(1, 2)
    if attn.norm_q is not None:
        q = attn.norm_q(q)
    if attn.norm_k is not None:
        k = attn.norm_k(k)
    out = functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.0, is_causal=False)
    return out.transpose(1, 2).reshape(batch, -1, heads * head_dim).to(query.dtype)


def warps(cfg: StreamConfig) -> bool:
    """True when the bank is on and warped with the motion (attention_bank_warp)."""
    return cfg.attention_bank > 0 and cfg.attention_bank_warp


def _mask(gates: tuple[Any, ...], keeps: tuple[torch.Tensor | None, ...], tokens: int,
          like: torch.Tensor) -> torch.Tensor | None:
    """Additive key mask (1, 1, 1, tokens * (1 + E)): 0 for the frame's own keys, log(gate * keep) for each banked
    frame's tokens (-inf behind a detected cut and for disoccluded warped tokens); None when no gate is a device
    tensor and no banked frame was warped."""
    if not any(isinstance(g, torch.Tensor) for g in gates) and all(k is None for k in keeps):
        return None
    parts = [torch.zeros(tokens, device=like.device, dtype=like.dtype)]
    for gate, keep in zip(gates, keeps, strict=True):
        g = torch.as_tensor(gate, device=like.device, dtype=torch.float32).reshape(1).expand(tokens)
        g = g if keep is None else g * keep.to(like.device)
        parts.append(g.log().to(like.dtype))
    return torch.cat(parts).view(1, 1, 1, -1)


def _inject(out: torch.Tensor, banked: torch.Tensor, gates: list[Any], tokens: int,
            cfg: StreamConfig) -> torch.Tensor:
    """out (R, T, C) moved toward its most similar banked token (R, E*T, C) where the cosine is >= the threshold."""
    sim = torch.bmm(functional.normalize(out.float(), dim=-1), functional.normalize(banked.float(), dim=-1)
                    .transpose(1, 2))  # (R, T, E*T)
    if any(isinstance(g, torch.Tensor) for g in gates):  # a banked frame behind a detected cut never matches
        usable = torch.cat([torch.as_tensor(g, device=out.device, dtype=torch.float32).reshape(1).expand(tokens)
                            for g in gates])
        sim = sim * usable - 3.0 * (1 - usable)
    best, index = sim.max(-1)  # (R, T)
    nearest = banked.gather(1, index.unsqueeze(-1).expand(-1, -1, banked.shape[-1]))
    weight = cfg.feature_injection * (best >= cfg.feature_injection_threshold).to(out.dtype).unsqueeze(-1)
    return out + weight * (nearest - out)
