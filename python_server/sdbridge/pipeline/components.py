"""Model components and `load_components`: the ONLY place that loads or builds models.

Names understood by `load_components(name_or_path, ...)`:
    "identity"                  no model: frames pass through unchanged (plumbing tests for engine users)
    "tiny", "tiny-sdxl", "small"   random-weight presets (see presets.py), no download
    "sd-turbo-shaped", "sdxl-turbo-shaped"   the published shapes with random weights (shaped_presets.py)
    a Hub id                    e.g. "stabilityai/sd-turbo", "stabilityai/sdxl-turbo",
                                "stable-diffusion-v1-5/stable-diffusion-v1-5" with
                                lora={"latent-consistency/lcm-lora-sdv1-5": 1.0}
    a local diffusers folder    with model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/
Hub ids resolve through the Hugging Face cache and fetch one weight variant of only the components that
load (sdbridge.pipeline.hub); with no network the error names the model, the cache folder and the
command of the installed huggingface_hub that fetches it. The autoencoder's class (AutoencoderTiny or
AutoencoderKL) is read from the folder, never assumed.
"""

from __future__ import annotations

import enum
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sdbridge.errors import ConfigError, ModelNotFoundError
from sdbridge.pipeline import hub
from sdbridge.pipeline.schedule import NoiseSchedule
from sdbridge.pipeline.shaped_presets import SHAPED_PRESETS, build_shaped
from sdbridge.pipeline.upcast import UpcastVae, needs_upcast

log = logging.getLogger(__name__)

PRESET_NAMES = ("tiny", "tiny-sdxl", "small", *SHAPED_PRESETS)
IDENTITY = "identity"
#: The forms a model name takes, as the errors for a name of none of them say.
MODEL_NAME_FORMS = (f"a preset ({', '.join((IDENTITY, *PRESET_NAMES))}), an existing folder or a Hub id "
                    "'owner/name'")
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
    live_loras: Any = None  # sdbridge.pipeline.live_lora.LiveLoras: the unfused adapters (--lora ...:live)

    @property
    def vae_scaling(self) -> float:
        """Latent scaling factor of the autoencoder (1.0 for TAESD, ~0.18 for SD's VAE)."""
        return float(getattr(getattr(self.vae, "config", None), "scaling_factor", 1.0))

    def describe(self) -> str:
        """One line for logs and the Welcome message (the passthrough model has no VAE or dtype to name)."""
        if self.family is ModelFamily.IDENTITY:
            return f"{self.name} (frames pass through unchanged, {self.device})"
        return f"{self.name} ({self.family.value}, vae={self.vae_choice.value}, {self.dtype}, {self.device})"


def load_components(
    name_or_path: str,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    *,
    vae: VaeChoice | str = VaeChoice.TAESD,
    lora: Mapping[str, float] | None = None,
    live_lora: Mapping[str, tuple[str, float]] | None = None,
    local_files_only: bool | None = None,
    seed: int = 0,
) -> Components:
    """Load (or build) the components named `name_or_path`; see the module docstring for the names.

    `vae`: VaeChoice.TAESD (default) or "taesd": an AutoencoderTiny (the folder's own when its vae/ holds one,
    else madebyollin/taesd or taesdxl); VaeChoice.FULL or "full": the folder's own autoencoder; any other
    string: a Hub id or folder of an autoencoder (AutoencoderTiny or AutoencoderKL, read from its config).
    `lora`: {Hub id or .safetensors path: scale} fused into the UNet and text encoder at load.
    `live_lora`: {adapter name: (Hub id or .safetensors path, starting weight)} loaded unfused into the UNet, their
    weights changed between frames (sdbridge.pipeline.live_lora; Components.live_loras).
    `local_files_only`: never touch the network (default: the HF_HUB_OFFLINE environment variable).
    `seed`: weight seed of the random presets.
    Each component's load is logged with its time, and the total at the end.
    """
    dev = _check_device(device)
    tune_cuda_backends(dev)
    if name_or_path == IDENTITY:
        return Components(name=IDENTITY, family=ModelFamily.IDENTITY, device=dev, dtype=dtype,
                          schedule=NoiseSchedule())
    started = time.perf_counter()
    vae_choice, vae_source = _vae_choice(vae)
    if name_or_path in PRESET_NAMES:
        if lora or live_lora:
            raise ConfigError("LoRA weights cannot be fused into a random preset; load a real model folder")
        from sdbridge.pipeline.presets import LCM_SCHEDULER_CONFIG, build_preset

        scheduler = LCM_SCHEDULER_CONFIG
        if name_or_path in SHAPED_PRESETS:  # published shapes, built on the device in the dtype (shaped_presets.py)
            parts, scheduler = build_shaped(name_or_path, dev, dtype, seed=seed)
        else:
            parts = build_preset(name_or_path, seed=seed)
        if vae_source is not None:
            parts["vae"], vae_choice = _load_vae_source(vae_source, dtype, local_files_only)
        else:
            parts["vae"] = parts["taesd"] if vae_choice is VaeChoice.TAESD else parts["vae"]
        comps = _assemble(name_or_path, parts, scheduler, vae_choice, dev, dtype)
    else:
        folder = _resolve_folder(name_or_path, local_files_only, dtype, vae_choice, vae_source)
        parts, scheduler_config, vae_choice = _load_folder(folder, name_or_path, dtype, vae_choice, vae_source,
                                                           local_files_only)
        if lora:
            _fuse_loras(parts, lora)
        comps = _assemble(name_or_path, parts, scheduler_config, vae_choice, dev, dtype)
        if live_lora:
            from sdbridge.pipeline.live_lora import load_live_loras

            comps.live_loras = load_live_loras(comps.unet, live_lora,  # type: ignore[arg-type]
                                               comps.family is ModelFamily.SDXL, local_files_only)
    log.info("model %s loaded in %.1f s: %s", name_or_path, time.perf_counter() - started, comps.describe())
    return comps


def _check_device(device: str | torch.device) -> torch.device:
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        from sdbridge.errors import BackendUnavailableError

        raise BackendUnavailableError(
            f"device={device!r} was asked for but torch {torch.__version__} sees no CUDA GPU; "
            "install a CUDA build of torch, or run on the CPU (--device cpu, [model] device = \"cpu\", or "
            "device='cpu' in Python)"
        )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        from sdbridge.errors import BackendUnavailableError

        raise BackendUnavailableError(f"device={device!r} was asked for but MPS is not available here")
    return dev


def tune_cuda_backends(device: torch.device) -> None:
    """On CUDA, let cuDNN time its convolution algorithms once per input shape and keep the fastest
    (torch.backends.cudnn.benchmark): a server runs the same few shapes for hours. Not run on a GPU here."""
    if device.type == "cuda" and not torch.backends.cudnn.benchmark:
        torch.backends.cudnn.benchmark = True
        log.info("cuDNN benchmark mode on: the first call of each shape times the convolution algorithms")


def _vae_choice(vae: VaeChoice | str) -> tuple[VaeChoice, str | None]:
    """(choice, source): source is a Hub id or folder of an autoencoder, None for the two named choices."""
    if isinstance(vae, VaeChoice):
        return vae, None
    try:
        return VaeChoice(vae), None
    except ValueError:
        return VaeChoice.TAESD, vae  # the choice is settled by the source's class when it loads


def names_a_model(name: str) -> bool:
    """True when `name` has one of MODEL_NAME_FORMS (whether it then loads is the loader's to say)."""
    if name in (IDENTITY, *PRESET_NAMES) or name.count("/") == 1:
        return True
    try:
        return Path(name).expanduser().exists()  # a folder, or a weight file the loader explains
    except (OSError, ValueError):
        return False


def _resolve_folder(name_or_path: str, local_files_only: bool | None, dtype: torch.dtype,
                    vae_choice: VaeChoice, vae_source: str | None) -> Path:
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
    if path.exists():
        raise ModelNotFoundError(f"{path} is a file, not a diffusers model folder; point at the folder holding "
                                 "model_index.json")
    if not names_a_model(name_or_path):
        raise ModelNotFoundError(f"unknown model {name_or_path!r}: not {MODEL_NAME_FORMS}")
    return _fetch_model(name_or_path, local_files_only, dtype, vae_choice, vae_source)


def _fetch_model(repo_id: str, local_files_only: bool | None, dtype: torch.dtype,
                 vae_choice: VaeChoice, vae_source: str | None) -> Path:
    """Fetch the configs first, then one weight variant of exactly the components that will load."""
    variant = hub.variant_for(_dtype_name(dtype))
    needed = ["unet", "text_encoder"]
    if vae_source is None and vae_choice is VaeChoice.FULL:
        needed.append("vae")
    folder = hub.snapshot(repo_id, hub.FilePatterns(hub.CONFIG_PATTERNS), local_files_only,
                          hint=hub.model_patterns(needed, variant))
    if (folder / "text_encoder_2").is_dir():
        needed.append("text_encoder_2")
    if vae_source is None and "vae" not in needed and _vae_class(folder) == "AutoencoderTiny":
        needed.append("vae")  # the repository's own autoencoder is already the tiny one: use it
    return hub.fetch_weights(repo_id, needed, variant, local_files_only)


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _vae_class(folder: Path) -> str:
    """The autoencoder class of a model folder: vae/config.json `_class_name`, else model_index.json's vae entry."""
    if (folder / "vae" / "config.json").is_file():
        name = _vae_class_of(folder / "vae" / "config.json")
        if name:
            return name
    index_file = folder / "model_index.json"
    if index_file.is_file():
        try:
            entry = json.loads(index_file.read_text(encoding="utf-8")).get("vae")
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(f"{index_file} is not a readable diffusers config: {exc}") from exc
        if isinstance(entry, list) and len(entry) == 2 and entry[1]:
            return str(entry[1])
    return "AutoencoderKL"  # diffusers' default for Stable Diffusion folders


def _autoencoder_class(class_name: str, where: Path) -> tuple[type, VaeChoice]:
    from diffusers import AutoencoderKL, AutoencoderTiny

    classes = {"AutoencoderTiny": (AutoencoderTiny, VaeChoice.TAESD), "AutoencoderKL": (AutoencoderKL, VaeChoice.FULL)}
    if class_name not in classes:
        raise ModelNotFoundError(
            f"{where} holds a {class_name}; the pipeline runs AutoencoderTiny (TAESD) or AutoencoderKL. "
            "Pass --vae taesd (or a folder / Hub id of an AutoencoderTiny)"
        )
    return classes[class_name]


def _variant(folder: Path, dtype: torch.dtype) -> str | None:
    """fp16 weights when serving float16 (or when they are the only ones), else the plain weights."""
    if hub.has_weights(folder, hub.FP16) and (dtype == torch.float16 or not hub.has_weights(folder, None)):
        return hub.FP16
    return None


def _timed(label: str, load: Callable[[], object]) -> object:
    """Run `load`, logging its start and how long it took (progress per component on the console)."""
    log.info("loading %s ...", label)
    started = time.perf_counter()
    result = load()
    log.info("loaded %s in %.1f s", label, time.perf_counter() - started)
    return result


def _load_folder(
    folder: Path, name: str, dtype: torch.dtype, vae_choice: VaeChoice, vae_source: str | None,
    local_files_only: bool | None,
) -> tuple[dict[str, object], dict, VaeChoice]:
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    log.info("loading %s from %s", name, folder)

    def pretrained(cls: Any, sub: str) -> object:
        variant, dtype_arg = _variant(folder / sub, dtype), {_dtype_keyword(cls): dtype}
        return _timed(f"{sub} ({cls.__name__}{', ' + variant + ' weights' if variant else ''})",
                      lambda: cls.from_pretrained(folder, subfolder=sub, variant=variant, **dtype_arg))

    parts: dict[str, object] = {
        "unet": pretrained(UNet2DConditionModel, "unet"),
        "text_encoder": pretrained(CLIPTextModel, "text_encoder"),
        "tokenizer": CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer"),
    }
    if (folder / "text_encoder_2").is_dir():
        parts["text_encoder_2"] = pretrained(CLIPTextModelWithProjection, "text_encoder_2")
        parts["tokenizer_2"] = CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer_2")
    if vae_source is not None:
        parts["vae"], vae_choice = _load_vae_source(vae_source, dtype, local_files_only)
    else:
        own_class, own_choice = _autoencoder_class(_vae_class(folder), folder / "vae")
        if vae_choice is VaeChoice.FULL or own_choice is VaeChoice.TAESD:  # the folder's own autoencoder
            parts["vae"], vae_choice = pretrained(own_class, "vae"), own_choice
        else:  # TAESD asked for, the folder's is the full VAE: it is never loaded
            family_key = "sdxl" if "text_encoder_2" in parts else "sd"
            parts["vae"], vae_choice = _load_vae_source(_TAESD_IDS[family_key], dtype, local_files_only)
    config_file = folder / "scheduler" / "scheduler_config.json"
    scheduler_config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    return parts, scheduler_config, vae_choice


def _dtype_keyword(cls: type) -> str:
    """The dtype argument of `cls.from_pretrained`: transformers 5 takes `dtype` (its `torch_dtype` is deprecated and
    warns); diffusers and transformers 4 take `torch_dtype`."""
    if cls.__module__.startswith("transformers."):
        import transformers

        if int(transformers.__version__.split(".")[0]) >= 5:
            return "dtype"
    return "torch_dtype"


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
        started = time.perf_counter()
        try:
            holder.load_lora_weights(source, adapter_name=adapter)
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(f"LoRA {source!r} could not be loaded: {exc}") from exc
        holder.fuse_lora(lora_scale=float(scale), adapter_names=[adapter])
        holder.unload_lora_weights()
        log.info("fused LoRA %s at scale %s in %.1f s", source, scale, time.perf_counter() - started)


def _load_vae_source(source: str, dtype: torch.dtype, local_files_only: bool | None
                     ) -> tuple[torch.nn.Module, VaeChoice]:
    """An autoencoder from a folder or Hub id; its class (tiny or KL) is read from its config.json."""
    path = Path(source).expanduser()
    if path.is_dir():
        folder = path
    elif source.count("/") == 1:
        variant = hub.variant_for(_dtype_name(dtype))
        stem = "diffusion_pytorch_model"
        folder = hub.snapshot(source, hub.FilePatterns(("config.json",)) + hub.weight_patterns("", variant, stem),
                              local_files_only)
        if variant is not None and not hub.has_weights(folder, variant, stem):
            folder = hub.snapshot(source, hub.FilePatterns(("config.json",)) + hub.weight_patterns("", None, stem),
                                  local_files_only)
    else:
        raise ModelNotFoundError(
            f"vae={source!r} is not taesd, full, an existing folder or a Hub id 'owner/name' of an autoencoder"
        )
    if not (folder / "config.json").is_file():
        raise ModelNotFoundError(f"{folder} holds no config.json: not a diffusers autoencoder folder")
    cls, choice = _autoencoder_class(_vae_class_of(folder / "config.json") or "AutoencoderKL", folder)
    variant = _variant(folder, dtype)
    module = _timed(f"vae {source} ({cls.__name__})",
                    lambda: cls.from_pretrained(folder, torch_dtype=dtype, variant=variant))
    return module, choice  # type: ignore[return-value]


def _vae_class_of(config_file: Path) -> str | None:
    """`_class_name` of an autoencoder's config.json (None when it has none)."""
    try:
        name = json.loads(config_file.read_text(encoding="utf-8")).get("_class_name")
    except (OSError, ValueError, AttributeError) as exc:
        raise ModelNotFoundError(f"{config_file} is not a readable diffusers config: {exc}") from exc
    return str(name) if name else None


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
        if next(module.parameters()).dtype != dtype:  # random presets are built in float32
            # torch's own cast: diffusers' override warns about float32-only modules, which these models lack
            torch.nn.Module.to(module, dtype=dtype)
        module.eval().requires_grad_(False)
    vae = parts["vae"]
    if needs_upcast(vae, dtype, family is ModelFamily.SDXL):  # type: ignore[arg-type]
        log.info("the full SDXL VAE runs in float32 (its config sets force_upcast: it overflows in float16)")
        vae = UpcastVae(vae, dtype)  # type: ignore[arg-type]
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
