"""ControlNets named on a command line or in a config: `KIND=SOURCE[@SCALE]` specs (parsed
by sdbridge.config.parse_controlnet, torch-free), loaded for components.

KIND is the ControlNet's name in the pipeline (its key in `controlnet_scale` and `set_image`: depth, normal, seg,
canny, ...); SOURCE a Hub id (e.g. lllyasviel/control_v11f1p_sd15_depth), a folder holding a diffusers
ControlNetModel (config.json and its weights), or `tiny` (a random-weight ControlNet for the random presets:
sdbridge.pipeline.controlnet.tiny_controlnet); SCALE its starting conditioning scale (the registry's
controlnet_scale range; 1 when left out). A ControlNet made for another model family (its cross-attention width
or SDXL conditioning differs from the UNet's) is refused naming both.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sdbridge.config import ControlNetSpec
from sdbridge.errors import ConfigError, ModelNotFoundError
from sdbridge.pipeline.controlnet import ControlNets, tiny_controlnet

TINY = "tiny"


def load_controlnets(specs: Sequence[ControlNetSpec], components: Any,
                     local_files_only: bool | None = None) -> tuple[ControlNets, tuple[tuple[str, float], ...]]:
    """The ControlNets of `specs` on the components' device and dtype, and their starting scales (for
    StreamConfig.controlnet_scale)."""
    models = {spec.kind: _load_one(spec, components, local_files_only) for spec in specs}
    for spec in specs:
        check_family(spec.kind, models[spec.kind], components.unet)
    return ControlNets(models), tuple((s.kind, s.scale) for s in specs)


def _load_one(spec: ControlNetSpec, components: Any, local_files_only: bool | None) -> Any:
    if spec.source == TINY:
        return tiny_controlnet(components)
    from diffusers import ControlNetModel

    options: dict[str, Any] = {"torch_dtype": components.dtype}
    if local_files_only is not None:
        options["local_files_only"] = local_files_only
    try:
        model = ControlNetModel.from_pretrained(spec.source, **options)
    except (OSError, ValueError) as exc:
        what = "folder" if Path(spec.source).exists() else "Hub id or folder"
        raise ModelNotFoundError(
            f"ControlNet {spec.kind!r}: cannot load {what} {spec.source!r} ({type(exc).__name__}: {exc}); give a "
            "folder with a diffusers ControlNetModel (config.json + weights) or a Hub id that is cached or "
            "reachable (hf download ID)") from None
    return model.to(components.device).eval()


def check_family(kind: str, model: Any, unet: Any) -> None:
    """Refuse a ControlNet whose conditioning does not fit the UNet (another model family)."""
    net_config, unet_config = getattr(model, "config", None), getattr(unet, "config", None)
    if net_config is None or unet_config is None:
        return  # an engine or a fake: nothing to compare (ControlStream refuses engines)
    for key in ("cross_attention_dim", "addition_embed_type"):
        ours, theirs = getattr(net_config, key, None), getattr(unet_config, key, None)
        if ours != theirs:
            raise ConfigError(f"ControlNet {kind!r} is for another model family: its {key} is {ours!r}, the "
                              f"UNet's {theirs!r}; use a ControlNet trained for this model's family")
