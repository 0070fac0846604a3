"""Random-weight component presets built from configs: no download, deterministic under a seed.

"tiny"       SD1.5-family layout at toy width, for tests and demos (runs at 64x64 in milliseconds).
"tiny-sdxl"  SDXL-family layout (two text encoders, text_embeds / time_ids conditioning) at toy width.
"small"      SD1.5 layout (4 levels, cross-attention, TAESD-size VAE) at reduced width: slow enough on a
             CPU that model compute dominates, for benchmarks.
The tokenizer is a byte-level CLIP BPE vocabulary with no merges (every character is a token), so it
needs no vocabulary download and different prompts still give different embeddings.

`model_defaults(name)`: the pipeline settings a known model is meant to run with where the configuration
gives none: SD-Turbo and SDXL-Turbo denoise in one step (the StreamDiffusion paper's 1-step figures).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKL, AutoencoderTiny, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

LCM_SCHEDULER_CONFIG: dict = {
    "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "prediction_type": "epsilon", "original_inference_steps": 50,
    "timestep_scaling": 10.0,
}


TURBO_T_INDEX_LIST = (32,)  # one step, at the strength of the first step of the two-step default (32, 45)


@dataclass(frozen=True)
class ModelDefaults:
    """Pipeline settings a model is meant to run with, and why (logged where they are applied)."""

    t_index_list: tuple[int, ...]
    why: str


def model_defaults(name: str) -> ModelDefaults | None:
    """The defaults of model `name` (a Hub id or folder), None when the general defaults apply.

    Adversarially distilled "turbo" models (stabilityai/sd-turbo, stabilityai/sdxl-turbo, or a folder named
    so) were trained to denoise in one step: a second step costs a second UNet sample and adds nothing.
    """
    base = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()
    if "turbo" in base:
        return ModelDefaults(TURBO_T_INDEX_LIST, f"{name} is a turbo model, distilled to denoise in one step")
    return None


@dataclass(frozen=True)
class PresetSpec:
    """Sizes of a random-weight preset."""

    unet: dict
    text_hidden: int
    text_layers: int
    sdxl: bool
    taesd_channels: int
    taesd_blocks: int
    kl_channels: tuple[int, ...]


PRESETS: dict[str, PresetSpec] = {
    "tiny": PresetSpec(
        unet=dict(
            block_out_channels=(32, 64), layers_per_block=1, cross_attention_dim=32, attention_head_dim=8,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        ),
        text_hidden=32, text_layers=2, sdxl=False, taesd_channels=16, taesd_blocks=1, kl_channels=(16, 16, 32, 32),
    ),
    "tiny-sdxl": PresetSpec(
        unet=dict(
            block_out_channels=(32, 64), layers_per_block=1, cross_attention_dim=64, attention_head_dim=(2, 4),
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), use_linear_projection=True,
            addition_embed_type="text_time", addition_time_embed_dim=8, transformer_layers_per_block=(1, 2),
            projection_class_embeddings_input_dim=6 * 8 + 32,
        ),
        text_hidden=32, text_layers=2, sdxl=True, taesd_channels=16, taesd_blocks=1, kl_channels=(16, 16, 32, 32),
    ),
    "small": PresetSpec(
        unet=dict(
            block_out_channels=(64, 128, 256, 256), layers_per_block=2, cross_attention_dim=256,
            attention_head_dim=8,
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                              "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        ),
        text_hidden=256, text_layers=4, sdxl=False, taesd_channels=64, taesd_blocks=3,
        kl_channels=(64, 128, 256, 256),
    ),
}


def _byte_unicode_alphabet() -> list[str]:
    """The 256 printable stand-ins CLIP's byte-level BPE uses for the bytes 0..255."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes, extra = list(printable), 0
    for b in range(256):
        if b not in printable:
            codes.append(256 + extra)
            extra += 1
    return [chr(c) for c in codes]


def byte_level_tokenizer() -> CLIPTokenizer:
    """A CLIP tokenizer whose vocabulary is every byte, plus end-of-word forms and the two specials."""
    alphabet = _byte_unicode_alphabet()
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    vocab.update({ch + "</w>": len(alphabet) + i for i, ch in enumerate(alphabet)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    with tempfile.TemporaryDirectory(prefix="sdbridge-vocab-") as folder:
        Path(folder, "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
        Path(folder, "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
        return CLIPTokenizer.from_pretrained(folder, model_max_length=77)


def _text_config(spec: PresetSpec, vocab_size: int, projection: bool) -> CLIPTextConfig:
    return CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=spec.text_hidden, intermediate_size=spec.text_hidden * 4,
        num_hidden_layers=spec.text_layers, num_attention_heads=4, max_position_embeddings=77,
        projection_dim=spec.text_hidden if projection else 512, bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1, pad_token_id=vocab_size - 1,
    )


def build_preset(name: str, seed: int = 0) -> dict[str, object]:
    """Random-weight modules for preset `name` (keys as in a diffusers pipeline folder)."""
    spec = PRESETS[name]
    tokenizer = byte_level_tokenizer()
    vocab_size = len(tokenizer)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(sample_size=32, in_channels=4, out_channels=4, **spec.unet)
        parts: dict[str, object] = {"unet": unet, "tokenizer": tokenizer}
        if spec.sdxl:
            parts["text_encoder"] = CLIPTextModel(_text_config(spec, vocab_size, projection=False))
            parts["text_encoder_2"] = CLIPTextModelWithProjection(_text_config(spec, vocab_size, projection=True))
            parts["tokenizer_2"] = tokenizer
        else:
            parts["text_encoder"] = CLIPTextModel(_text_config(spec, vocab_size, projection=False))
        c, blocks = spec.taesd_channels, spec.taesd_blocks
        parts["taesd"] = AutoencoderTiny(
            encoder_block_out_channels=(c, c, c, c), decoder_block_out_channels=(c, c, c, c),
            num_encoder_blocks=(1, blocks, blocks, blocks), num_decoder_blocks=(blocks, blocks, blocks, 1),
            latent_channels=4,
        )
        _center_decoder_output(parts["taesd"].decoder.layers[-1])
        parts["vae"] = AutoencoderKL(
            block_out_channels=spec.kl_channels, layers_per_block=1, latent_channels=4,
            norm_num_groups=min(16, spec.kl_channels[0]),
            down_block_types=("DownEncoderBlock2D",) * len(spec.kl_channels),
            up_block_types=("UpDecoderBlock2D",) * len(spec.kl_channels),
        )
    return parts


def _center_decoder_output(last_conv: torch.nn.Conv2d) -> None:
    """Random TAESD decoders output ~0 in [0, 1] space (a black image); shift to mid-grey and add contrast
    so preset outputs are visible in demos and image differences show in tests."""
    with torch.no_grad():
        last_conv.weight.mul_(4.0)
        if last_conv.bias is not None:
            last_conv.bias.fill_(0.5)
