"""Live LoRAs: adapters left unfused in the UNet (diffusers' PEFT backend), their weights changed between frames.

A LoRA declared live (`--lora SOURCE=SCALE:live`, sdbridge.config.LoraSpec) is loaded into the UNet as a named
adapter instead of being fused into its weights. Each session's pipeline holds the weights it wants
(StreamConfig.lora_weights, the registry's `lora_weights`: (adapter, weight) pairs, the others at their starting
weight); the sessions share one UNet, so `LiveLoras.apply` sets the adapters' scales before each UNet call, and
only when they differ from the ones set last (diffusers' `set_adapters` walks every module). Weight 0 adds
nothing: the UNet computes what it computes without the LoRA.

Only the UNet's layers of a live LoRA are loaded: its text-encoder layers (if any) would change the prompt
embeddings, which are encoded once and cached, so they are left out (logged). An unfused adapter costs time on
every UNet call (`sdbridge bench pipeline` measures it against the fused LoRA). The eager backend only: the
engine backends compile the UNet's weights in.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Mapping, Sequence

import torch

from sdbridge.errors import ConfigError, ModelNotFoundError

log = logging.getLogger(__name__)


class LiveLoras:
    """The live adapters of one UNet: their names, starting weights, and the weights set on the UNet now."""

    def __init__(self, unet: torch.nn.Module, defaults: Mapping[str, float]) -> None:
        self._unet = unet
        self.defaults = dict(defaults)
        self._applied: tuple[float, ...] | None = None
        self.applies = 0  # how often the scales were really set (tests, stats)

    @property
    def names(self) -> tuple[str, ...]:
        """The adapter names, in load order."""
        return tuple(self.defaults)

    def weights(self, overrides: Sequence[tuple[str, float]]) -> tuple[float, ...]:
        """Every adapter's weight (in `names` order): `overrides` [(name, weight), ...], the rest at their start.

        ConfigError naming the unknown adapter and the known ones when an override names no live adapter."""
        chosen = dict(self.defaults)
        for name, weight in overrides:
            if name not in chosen:
                raise unknown_adapter(name, self.names)
            chosen[name] = float(weight)
        return tuple(chosen.values())

    def apply(self, weights: tuple[float, ...]) -> None:
        """Set the adapters' scales to `weights` (from `weights()`) unless they are set already."""
        if weights == self._applied:
            return
        self._unet.set_adapters(list(self.names), list(weights))  # type: ignore[operator]
        self._applied = weights
        self.applies += 1


def load_live_loras(unet: torch.nn.Module, loras: Mapping[str, tuple[str, float]], sdxl: bool,
                    local_files_only: bool | None = None) -> LiveLoras:
    """Load each {adapter name: (Hub id or .safetensors path, starting weight)} into `unet` as a named adapter
    (UNet layers only, see the module docstring) and set the starting weights."""
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    if importlib.util.find_spec("peft") is None:
        raise ConfigError(f"live LoRAs ({', '.join(loras)}) need peft, diffusers' adapter backend: "
                          f"pip install 'peft>=0.10' (it is in the [dev] extra), or fuse them (drop ':live')")
    loader = StableDiffusionXLPipeline if sdxl else StableDiffusionPipeline
    for name, (source, weight) in loras.items():
        started = time.perf_counter()
        try:
            state, alphas, metadata = loader.lora_state_dict(source, unet_config=unet.config,  # type: ignore[attr-defined]
                                                             local_files_only=local_files_only,
                                                             return_lora_metadata=True)
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(f"live LoRA {name!r} ({source!r}) could not be loaded: {exc}") from exc
        skipped = sum(1 for key in state if not key.startswith("unet."))
        if skipped:
            log.warning("live LoRA %s: %d text-encoder tensors left out (a live LoRA changes the UNet only; fuse "
                        "it, without :live, to keep them)", name, skipped)
        try:
            loader.load_lora_into_unet(state, alphas, unet, adapter_name=name, metadata=metadata)
        except (ValueError, RuntimeError) as exc:  # peft: no target module matched, or shapes that differ
            raise _foreign(name, source, exc) from exc
        if name not in (getattr(unet, "peft_config", None) or {}):
            raise _foreign(name, source, None)
        log.info("live LoRA %s (%s) loaded unfused at weight %s in %.1f s", name, source, weight,
                 time.perf_counter() - started)
    live = LiveLoras(unet, {name: weight for name, (_, weight) in loras.items()})
    live.apply(live.weights(()))
    return live


def _foreign(name: str, source: str, exc: BaseException | None) -> ModelNotFoundError:
    why = f" ({str(exc).splitlines()[0]})" if exc is not None else ""
    return ModelNotFoundError(f"live LoRA {name!r} ({source!r}) has no layer of this model's UNet{why}; is it a LoRA "
                              f"for another model family?")


def live_weights(live: LiveLoras | None, overrides: Sequence[tuple[str, float]]) -> tuple[float, ...]:
    """The adapters' weights a pipeline with `overrides` (StreamConfig.lora_weights) runs at; () without live
    LoRAs. ConfigError when `overrides` names an adapter the model does not have."""
    if live is None:
        if overrides:
            raise unknown_adapter(overrides[0][0], ())
        return ()
    return live.weights(overrides)


def unknown_adapter(name: str, known: Sequence[str]) -> ConfigError:
    """The refusal of a lora_weights entry naming `name`, which is none of the model's live LoRAs `known` (the
    pipeline's own check, and the server's where a Params enters: sdbridge.serving.served_names)."""
    if not known:
        return ConfigError(f"lora_weights names {name!r}, but this model has no live LoRA; start the server with "
                           f"--lora SOURCE=SCALE:live")
    return ConfigError(f"lora_weights names {name!r}, which is no live LoRA of this model; live LoRAs: "
                       f"{', '.join(known)}")
