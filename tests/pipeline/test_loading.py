"""Models load through load_components from diffusers folders (the path Hub ids take), LoRAs fuse at load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from sdbridge.pipeline import CfgMode, ModelFamily, StreamConfig, StreamPipeline, VaeChoice, load_components
from sdbridge.pipeline.presets import LCM_SCHEDULER_CONFIG, build_preset
from tests.conftest import random_frames


def save_diffusers_folder(preset: str, folder: Path) -> Path:
    """Write a random preset as a diffusers model folder (model_index.json + one subfolder per part)."""
    parts = build_preset(preset)
    index = {"_class_name": "StableDiffusionXLPipeline" if "text_encoder_2" in parts else "StableDiffusionPipeline"}
    for key in ("unet", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2"):
        if key in parts:
            parts[key].save_pretrained(folder / key)
            index[key] = ["diffusers" if key in ("unet", "vae") else "transformers", type(parts[key]).__name__]
    (folder / "scheduler").mkdir()
    (folder / "scheduler" / "scheduler_config.json").write_text(
        json.dumps({"_class_name": "LCMScheduler", **LCM_SCHEDULER_CONFIG}))
    (folder / "model_index.json").write_text(json.dumps(index))
    parts["taesd"].save_pretrained(folder.parent / f"{folder.name}-taesd")
    return folder


def run(comps, frames):
    pipe = StreamPipeline(comps, StreamConfig(width=64, height=64, t_index_list=[16, 45], cfg_mode=CfgMode.FULL,
                                              guidance_scale=1.5))
    pipe.prepare(prompt="castle", negative_prompt="blurry")
    return [pipe(f) for f in frames][-1]


@pytest.mark.parametrize(("preset", "family"), [("tiny", ModelFamily.SD15), ("tiny-sdxl", ModelFamily.SDXL)])
@pytest.mark.parametrize("vae", [VaeChoice.FULL, VaeChoice.TAESD])
def test_folder_loads_like_the_preset(tmp_path, preset, family, vae):
    folder = save_diffusers_folder(preset, tmp_path / "model")
    vae_arg = vae if vae is VaeChoice.FULL else str(tmp_path / "model-taesd")
    loaded = load_components(str(folder), vae=vae_arg, local_files_only=True)
    built = load_components(preset, vae=vae)
    assert loaded.family is family and built.family is family
    assert loaded.vae_choice is vae
    frames = random_frames(3)
    torch.testing.assert_close(run(loaded, frames).latents, run(built, frames).latents)


def test_folder_without_unet_is_refused(tmp_path):
    from sdbridge.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="not a diffusers model folder"):
        load_components(str(tmp_path))


@pytest.mark.parametrize("vae", ["full", "taesd"])
def test_lora_is_fused_at_load(tmp_path, vae):
    peft = pytest.importorskip("peft", reason="peft is in the [dev] extra")
    from diffusers import StableDiffusionPipeline

    folder = save_diffusers_folder("tiny", tmp_path / "model")
    vae_arg = "full" if vae == "full" else str(tmp_path / "model-taesd")  # the LoRA loader also holds a TAESD
    base = load_components(str(folder), vae=vae_arg, local_files_only=True)
    unet = build_preset("tiny")["unet"]
    with torch.random.fork_rng():
        torch.manual_seed(1)
        unet.add_adapter(peft.LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_v"], init_lora_weights=False))
    lora_state = peft.get_peft_model_state_dict(unet)  # lora_alpha == r: the file carries no alpha, scale 1
    StableDiffusionPipeline.save_lora_weights(tmp_path / "lora", unet_lora_layers=lora_state,
                                              safe_serialization=True)
    lora_file = str(tmp_path / "lora" / "pytorch_lora_weights.safetensors")
    fused = load_components(str(folder), vae=vae_arg, lora={lora_file: 0.5}, local_files_only=True)

    name = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"
    a = next(v for k, v in lora_state.items() if k.startswith(name) and "lora_A" in k)
    b = next(v for k, v in lora_state.items() if k.startswith(name) and "lora_B" in k)
    w_base = base.unet.get_submodule(name).weight
    w_fused = fused.unet.get_submodule(name).weight
    torch.testing.assert_close(w_fused, w_base + 0.5 * (b @ a), atol=1e-5, rtol=1e-5)
    assert not any("lora" in n for n, _ in fused.unet.named_parameters())  # fused, not left as adapters
