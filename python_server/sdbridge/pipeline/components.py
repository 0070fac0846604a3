"""Model components and `load_components`: the ONLY place that loads or builds models.

Names understood by `load_components(name_or_path, ...)`:
    "identity"                  no model: frames pass through unchanged (plumbing tests for engine users)
    "tiny", "tiny-sdxl", "small"   random-weight presets (see presets.py), no download
    a Hub id                    e.g. "stabilityai/sd-turbo", "stabilityai/sdxl-turbo",
                                "runwayml/stable-diffusion-v1-5" with lora={"latent-consistency/lcm-lora-sdv1-5": 1.0}
    a local diffusers folder    with model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/
Hub ids resolve through the Hugging Face cache; with no network the error names the model, the cache
folder and the command that fetches it.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from sdbridge.errors import ConfigError, ModelNotFoundError
from sdbridge.pipeline.schedule import NoiseSchedule

log = logging.getLogger(__name__)

PRESET_NAMES = ("tiny", "tiny-sdxl", "small")
IDENTITY = "identity"
_SUBFOLDERS = ("unet", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler")
_TAESD_IDS = {"sd": "madebyollin/taesd", "sdxl": "madebyollin/taesdxl"}


class ModelFamily(enum.Enum):
    """Conditioning layout of the UNet. IDENTITY means there is no model at all."""

    SD15 = "sd15"
    SD21 = "sd21"
    SDXL = "sdxl"
    IDENTITY = "identity"


class VaeChoice(enum.Enum):
    """Which autoencoder turns frames into latents and back."""

    TAESD = "taesd"  # AutoencoderTiny: the paper's choice, ~10x cheaper than the full VAE
    FULL = "full"  # the model's own AutoencoderKL


@dataclass(eq=False)
class Components:
    """Loaded modules shared by every StreamPipeline of a server (one copy per process)."""

    name: str
    family: ModelFamily
    device: torch.device
    dtype: torch.dtype
    schedule: NoiseSchedule
    unet: torch.nn.Module | None = None
    vae: torch.nn.Module | None = None
    vae_choice: VaeChoice = VaeChoice.TAESD
    text_encoder: torch.nn.Module | None = None
    tokenizer: object | None = None
    text_encoder_2: torch.nn.Module | None = None
    tokenizer_2: object | None = None
    latent_channels: int = 4
    vae_scale_factor: int = 8

    @property
    def vae_scaling(self) -> float:
        """Latent scaling factor of the autoencoder (1.0 for TAESD, ~0.18 for SD's VAE)."""
        return float(getattr(getattr(self.vae, "config", None), "scaling_factor", 1.0))

    def describe(self) -> str:
        """One line for logs and the Welcome message."""
        return f"{self.name} ({self.family.value}, vae={self.vae_choice.value}, {self.dtype}, {self.device})"


def load_components(
    name_or_path: str,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    *,
    vae: VaeChoice | str = VaeChoice.TAESD,
    lora: Mapping[str, float] | None = None,
    local_files_only: bool | None = None,
    seed: int = 0,
) -> Components:
    """Load (or build) the components named `name_or_path`; see the module docstring for the names.

    `vae`: VaeChoice.TAESD (default), VaeChoice.FULL, or a Hub id / folder of an AutoencoderTiny.
    `lora`: {Hub id or .safetensors path: scale} fused into the UNet and text encoder at load.
    `local_files_only`: never touch the network (default: the HF_HUB_OFFLINE environment variable).
    `seed`: weight seed of the random presets.
    """
    dev = _check_device(device)
    if name_or_path == IDENTITY:
        return Components(name=IDENTITY, family=ModelFamily.IDENTITY, device=dev, dtype=dtype,
                          schedule=NoiseSchedule())
    vae_choice, vae_source = _vae_choice(vae)
    if name_or_path in PRESET_NAMES:
        if lora:
            raise ConfigError("LoRA weights cannot be fused into a random preset; load a real model folder")
        from sdbridge.pipeline.presets import LCM_SCHEDULER_CONFIG, build_preset

        parts = build_preset(name_or_path, seed=seed)
        parts["vae"] = parts["taesd"] if vae_choice is VaeChoice.TAESD else parts["vae"]
        return _assemble(name_or_path, parts, LCM_SCHEDULER_CONFIG, vae_choice, dev, dtype)
    folder = _resolve_folder(name_or_path, local_files_only)
    parts, scheduler_config = _load_folder(folder, name_or_path, dtype, lora)
    if vae_choice is VaeChoice.TAESD:
        family_key = "sdxl" if "text_encoder_2" in parts else "sd"
        parts["vae"] = _load_taesd(vae_source or _TAESD_IDS[family_key], dtype, local_files_only)
    return _assemble(name_or_path, parts, scheduler_config, vae_choice, dev, dtype)


def _check_device(device: str | torch.device) -> torch.device:
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        from sdbridge.errors import BackendUnavailableError

        raise BackendUnavailableError(
            f"device={device!r} was asked for but torch {torch.__version__} sees no CUDA GPU; "
            "install a CUDA build of torch or pass device='cpu'"
        )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        from sdbridge.errors import BackendUnavailableError

        raise BackendUnavailableError(f"device={device!r} was asked for but MPS is not available here")
    return dev


def _vae_choice(vae: VaeChoice | str) -> tuple[VaeChoice, str | None]:
    if isinstance(vae, VaeChoice):
        return vae, None
    try:
        return VaeChoice(vae), None
    except ValueError:
        return VaeChoice.TAESD, vae  # a Hub id or folder of an AutoencoderTiny


def _resolve_folder(name_or_path: str, local_files_only: bool | None) -> Path:
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if not (path / "unet").is_dir():
            raise ModelNotFoundError(
                f"{path} is a folder but not a diffusers model folder (no unet/ inside); "
                "point at the folder holding model_index.json"
            )
        return path
    if path.suffix in (".safetensors", ".ckpt"):
        raise ModelNotFoundError(
            f"single-file checkpoints ({path.name}) are not loaded directly yet: convert once with diffusers' "
            "StableDiffusionPipeline.from_single_file(path).save_pretrained(folder) and pass that folder"
        )
    if name_or_path.count("/") != 1:
        raise ModelNotFoundError(
            f"unknown model {name_or_path!r}: not a preset ({', '.join((IDENTITY, *PRESET_NAMES))}), "
            "not a folder, and not a Hub id of the form 'owner/name'"
        )
    return _snapshot(name_or_path, local_files_only,
                     [f"{s}/*.json" for s in _SUBFOLDERS] + [f"{s}/*.txt" for s in _SUBFOLDERS]
                     + [f"{s}/*.safetensors" for s in _SUBFOLDERS] + ["model_index.json"])


def _snapshot(repo_id: str, local_files_only: bool | None, patterns: list[str]) -> Path:
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    offline = constants.HF_HUB_OFFLINE if local_files_only is None else local_files_only
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns, local_files_only=offline))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
        raise ModelNotFoundError(
            f"model {repo_id!r} is not on disk (looked in the Hugging Face cache {constants.HF_HUB_CACHE}) "
            f"and the Hub could not be reached{' (offline mode)' if offline else ''}: {type(exc).__name__}. "
            f"Fetch it on a machine with network with `huggingface-cli download {repo_id}` and copy the cache, "
            "or pass a local diffusers folder"
        ) from exc


def _load_folder(
    folder: Path, name: str, dtype: torch.dtype, lora: Mapping[str, float] | None
) -> tuple[dict[str, object], dict]:
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    log.info("loading %s from %s", name, folder)
    parts: dict[str, object] = {
        "unet": UNet2DConditionModel.from_pretrained(folder, subfolder="unet", torch_dtype=dtype),
        "vae": AutoencoderKL.from_pretrained(folder, subfolder="vae", torch_dtype=dtype),
        "text_encoder": CLIPTextModel.from_pretrained(folder, subfolder="text_encoder", torch_dtype=dtype),
        "tokenizer": CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer"),
    }
    if (folder / "text_encoder_2").is_dir():
        parts["text_encoder_2"] = CLIPTextModelWithProjection.from_pretrained(
            folder, subfolder="text_encoder_2", torch_dtype=dtype)
        parts["tokenizer_2"] = CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer_2")
    config_file = folder / "scheduler" / "scheduler_config.json"
    scheduler_config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    if lora:
        _fuse_loras(parts, lora)
    return parts, scheduler_config


def _fuse_loras(parts: dict[str, object], lora: Mapping[str, float]) -> None:
    """Fuse each LoRA at its scale into the UNet (and text encoders) through diffusers' LoRA loader."""
    from diffusers import LCMScheduler, StableDiffusionPipeline, StableDiffusionXLPipeline

    common = {k: parts[k] for k in ("vae", "unet", "text_encoder", "tokenizer")}
    if "text_encoder_2" in parts:
        holder = StableDiffusionXLPipeline(
            **common, text_encoder_2=parts["text_encoder_2"], tokenizer_2=parts["tokenizer_2"],
            scheduler=LCMScheduler())
    else:
        holder = StableDiffusionPipeline(
            **common, scheduler=LCMScheduler(), safety_checker=None, feature_extractor=None,
            requires_safety_checker=False)
    for index, (source, scale) in enumerate(lora.items()):
        adapter = f"lora_{index}"
        try:
            holder.load_lora_weights(source, adapter_name=adapter)
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(f"LoRA {source!r} could not be loaded: {exc}") from exc
        holder.fuse_lora(lora_scale=float(scale), adapter_names=[adapter])
        holder.unload_lora_weights()
        log.info("fused LoRA %s at scale %s", source, scale)


def _load_taesd(source: str, dtype: torch.dtype, local_files_only: bool | None) -> torch.nn.Module:
    from diffusers import AutoencoderTiny

    path = Path(source).expanduser()
    folder = path if path.is_dir() else _snapshot(source, local_files_only, ["*.json", "*.safetensors"])
    return AutoencoderTiny.from_pretrained(folder, torch_dtype=dtype)


def _assemble(
    name: str, parts: dict[str, object], scheduler_config: dict, vae_choice: VaeChoice,
    device: torch.device, dtype: torch.dtype,
) -> Components:
    unet = parts["unet"]
    assert isinstance(unet, torch.nn.Module)
    unet_config = unet.config  # type: ignore[attr-defined]
    if unet_config.addition_embed_type == "text_time":
        family = ModelFamily.SDXL
    elif unet_config.cross_attention_dim == 1024:
        family = ModelFamily.SD21
    else:
        family = ModelFamily.SD15
    modules = {k: v for k, v in parts.items() if isinstance(v, torch.nn.Module) and k != "taesd"}
    for module in modules.values():
        module.to(device=device)
        if next(module.parameters()).dtype != dtype:
            module.to(dtype=dtype)
        module.eval().requires_grad_(False)
    vae = parts["vae"]
    return Components(
        name=name, family=family, device=device, dtype=dtype,
        schedule=NoiseSchedule.from_scheduler_config(scheduler_config),
        unet=unet, vae=vae,  # type: ignore[arg-type]
        vae_choice=vae_choice,
        text_encoder=parts.get("text_encoder"),  # type: ignore[arg-type]
        tokenizer=parts.get("tokenizer"),
        text_encoder_2=parts.get("text_encoder_2"),  # type: ignore[arg-type]
        tokenizer_2=parts.get("tokenizer_2"),
        latent_channels=int(unet_config.in_channels),
        vae_scale_factor=_vae_scale_factor(vae),
    )


def _vae_scale_factor(vae: object) -> int:
    """Pixels per latent cell: 2 ** (number of downsampling levels) of the encoder."""
    config = vae.config  # type: ignore[attr-defined]
    channels = getattr(config, "block_out_channels", None) or config.encoder_block_out_channels
    return 2 ** (len(channels) - 1)
