"""Random-weight IP-Adapters for the random presets ("tiny", "tiny-sdxl", "small": tests, demos, the bench):
an IP-Adapter state dict in the file format diffusers' load_ip_adapter reads (plain or Plus) and a small
random CLIPVisionModelWithProjection built from a config. Weights come from a fixed seed (the global RNG is
left as it was)."""

from __future__ import annotations

from typing import Any

import torch

TOKENS = 4  # image tokens: the plain adapter's (diffusers fixes 4), the Plus resampler's queries
PLUS_HIDDEN, PLUS_DEPTH, PLUS_FF = 64, 4, 4  # diffusers derives heads = hidden // 64 and builds depth 4


def tiny_image_encoder(seed: int = 0) -> Any:
    """A random CLIPVisionModelWithProjection (32x32 input, width 32, projection 16)."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    config = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_attention_heads=4, num_hidden_layers=2,
                              image_size=32, patch_size=8, projection_dim=16)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CLIPVisionModelWithProjection(config).eval()


def tiny_state_dict(unet_config: Any, image_encoder_config: Any, plus: bool = False,
                    seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    """{"image_proj": ..., "ip_adapter": ...} random weights fitting a UNet config and an image encoder config."""
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(shape, generator=generator) / shape[-1] ** 0.5 * (1.0 if len(shape) > 1 else 0.1)

    cross = int(unet_config.cross_attention_dim)
    if plus:
        proj = _plus_projection(rand, int(image_encoder_config.hidden_size), cross)
    else:
        embed = int(image_encoder_config.projection_dim)
        proj = {"proj.weight": rand(cross * TOKENS, embed), "proj.bias": rand(cross * TOKENS),
                "norm.weight": 1 + rand(cross), "norm.bias": rand(cross)}
    layers: dict[str, torch.Tensor] = {}
    for key_id, hidden in enumerate(_cross_attention_widths(unet_config), start=0):
        layers[f"{2 * key_id + 1}.to_k_ip.weight"] = rand(hidden, cross)
        layers[f"{2 * key_id + 1}.to_v_ip.weight"] = rand(hidden, cross)
    return {"image_proj": proj, "ip_adapter": layers}


def _plus_projection(rand: Any, embed: int, cross: int) -> dict[str, torch.Tensor]:
    """The original IP-Adapter Plus Resampler's keys (diffusers converts them to IPAdapterPlusImageProjection)."""
    h = PLUS_HIDDEN
    proj = {"latents": rand(1, TOKENS, h) * h ** 0.5, "proj_in.weight": rand(h, embed), "proj_in.bias": rand(h),
            "proj_out.weight": rand(cross, h), "proj_out.bias": rand(cross),
            "norm_out.weight": 1 + rand(cross), "norm_out.bias": rand(cross)}
    for i in range(PLUS_DEPTH):
        proj |= {f"layers.{i}.0.norm1.weight": 1 + rand(h), f"layers.{i}.0.norm1.bias": rand(h),
                 f"layers.{i}.0.norm2.weight": 1 + rand(h), f"layers.{i}.0.norm2.bias": rand(h),
                 f"layers.{i}.0.to_q.weight": rand(h, h), f"layers.{i}.0.to_kv.weight": rand(2 * h, h),
                 f"layers.{i}.0.to_out.weight": rand(h, h),
                 f"layers.{i}.1.0.weight": 1 + rand(h), f"layers.{i}.1.0.bias": rand(h),
                 f"layers.{i}.1.1.weight": rand(h * PLUS_FF, h), f"layers.{i}.1.3.weight": rand(h, h * PLUS_FF)}
    return proj


def _cross_attention_widths(unet_config: Any) -> list[int]:
    """The hidden width of each cross-attention layer, in the order of the UNet's attn_processors (the order of
    the IP-Adapter file's odd keys 1, 3, 5, ...)."""
    from diffusers import UNet2DConditionModel

    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(unet_config)
    channels = list(unet_config.block_out_channels)
    widths = []
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        if name.startswith("mid_block"):
            widths.append(channels[-1])
        elif name.startswith("up_blocks"):
            widths.append(list(reversed(channels))[int(name[len("up_blocks.")])])
        else:
            widths.append(channels[int(name[len("down_blocks.")])])
    return widths


def tiny_ip_adapter(components: Any, plus: bool = False, seed: int = 0) -> Any:
    """A random-weight IpAdapter attached to components.unet (sdbridge.pipeline.ip_adapter.IpAdapter)."""
    from sdbridge.pipeline.ip_adapter import IpAdapter

    encoder = tiny_image_encoder(seed)
    return IpAdapter(components, tiny_state_dict(components.unet.config, encoder.config, plus, seed), encoder)
