"""Prompt encoding with a cache, and weighted prompt blends.

Each distinct text is encoded once per pipeline (the cache is keyed by text, least recently used out
first); blends reuse cached encodings. The worker encodes a large blend's new texts a few per turn
(`missing` says which are left; sdbridge.runtime.updates) so that one session's blend cannot hold the
shared worker for long. SD1.5/SD2.x use the last hidden state of one CLIP text encoder; SDXL concatenates the
penultimate hidden states of both encoders and adds the pooled projection of the second.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from sdbridge.errors import InputError
from sdbridge.pipeline.blending import blend
from sdbridge.pipeline.components import Components, ModelFamily
from sdbridge.pipeline.config import Interpolation, PromptSpec


@dataclass(frozen=True, eq=False)
class PromptEmbedding:
    """Encoder output for one prompt: embeds (1, L, D); pooled (1, P) for SDXL, else None."""

    embeds: torch.Tensor
    pooled: torch.Tensor | None


class PromptEncoder:
    """Encodes texts with the components' tokenizers and text encoders, caching by text."""

    def __init__(self, components: Components, max_cache: int = 256) -> None:
        self._c = components
        self._cache: dict[str, PromptEmbedding] = {}
        self._max_cache = max_cache
        self.encode_calls = 0  # texts actually run through the text encoder (for tests and stats)

    @property
    def capacity(self) -> int:
        """The most texts the cache keeps."""
        return self._max_cache

    def encode(self, text: str) -> PromptEmbedding:
        """The embedding of `text`, from cache when seen before."""
        if not isinstance(text, str):
            raise InputError(f"prompt must be a str, got {type(text).__name__}")
        hit = self._cache.pop(text, None)
        if hit is not None:
            self._cache[text] = hit  # most recently used last
            return hit
        embedding = self._encode_uncached(text)
        if len(self._cache) >= self._max_cache:
            self._cache.pop(next(iter(self._cache)))
        self._cache[text] = embedding
        return embedding

    def missing(self, specs: Iterable[PromptSpec | None]) -> list[str]:
        """The distinct texts of `specs` (texts or weighted blends; None is skipped) not cached yet, in order."""
        texts: dict[str, None] = {}
        for spec in specs:
            if spec is None:
                continue
            for text in [spec] if isinstance(spec, str) else [item[0] for item in spec]:
                if isinstance(text, str) and text not in self._cache:
                    texts[text] = None
        return list(texts)

    def adopt(self, other: PromptEncoder) -> None:
        """Take over the cached encodings of `other` (a pipeline rebuilt on the same components keeps them)."""
        if other._c is not self._c:
            return
        for text, embedding in list(other._cache.items())[-self._max_cache:]:
            self._cache.setdefault(text, embedding)

    def resolve(self, spec: PromptSpec, interpolation: Interpolation) -> PromptEmbedding:
        """A text, or a weighted blend [(text, weight), ...] of cached encodings."""
        if isinstance(spec, str):
            return self.encode(spec)
        items = list(spec)
        if not items:
            raise InputError("prompt blend is empty; give [(text, weight), ...] with at least one item")
        encoded = [self.encode(text) for text, _ in items]
        weights = [float(w) for _, w in items]
        embeds = blend([e.embeds for e in encoded], weights, interpolation, dim=-1)
        pooled = None
        if encoded[0].pooled is not None:
            pooled = blend([e.pooled for e in encoded], weights, interpolation, dim=-1)  # type: ignore[misc]
        return PromptEmbedding(embeds=embeds, pooled=pooled)

    @torch.inference_mode()
    def _encode_uncached(self, text: str) -> PromptEmbedding:
        self.encode_calls += 1
        c = self._c
        if c.family is ModelFamily.SDXL:
            hidden_1, _ = _run_encoder(c.tokenizer, c.text_encoder, text, c.device, penultimate=True)
            hidden_2, pooled = _run_encoder(c.tokenizer_2, c.text_encoder_2, text, c.device, penultimate=True)
            embeds = torch.cat([hidden_1, hidden_2], dim=-1)  # (1, 77, D1 + D2)
            return PromptEmbedding(embeds=embeds.to(c.dtype), pooled=pooled.to(c.dtype))
        hidden, _ = _run_encoder(c.tokenizer, c.text_encoder, text, c.device, penultimate=False)
        return PromptEmbedding(embeds=hidden.to(c.dtype), pooled=None)


def _run_encoder(
    tokenizer: object, encoder: torch.nn.Module, text: str, device: torch.device, penultimate: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    ids = tokenizer(  # type: ignore[operator]
        [text], padding="max_length", max_length=tokenizer.model_max_length,  # type: ignore[attr-defined]
        truncation=True, return_tensors="pt",
    ).input_ids.to(device)  # (1, 77)
    out = encoder(ids, output_hidden_states=penultimate)
    hidden = out.hidden_states[-2] if penultimate else out[0]  # (1, 77, D)
    pooled = getattr(out, "text_embeds", None)  # (1, P) for CLIPTextModelWithProjection
    return hidden, pooled


def describe(spec: PromptSpec) -> str:
    """A short human-readable form of a prompt spec (for logs and stats)."""
    if isinstance(spec, str):
        return spec
    return " | ".join(f"{t} x{w:g}" for t, w in _as_pairs(spec))


def _as_pairs(spec: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
    return [(str(t), float(w)) for t, w in spec]
