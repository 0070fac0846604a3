"""The IP-Adapter named on a command line or in a config (`SOURCE[@SCALE]`, parsed torch-free by
sdbridge.config.parse_ip_adapter), loaded for components, and saved in the layout it is loaded from.

SOURCE is "tiny" or "tiny-plus" (random weights: sdbridge.pipeline.ip_adapter_tiny), a local weight file, or a
Hub file `OWNER/REPO/PATH/FILE` (e.g. h94/IP-Adapter/models/ip-adapter_sd15.safetensors). The file holds the
`image_proj.*` and `ip_adapter.*` weights (.safetensors) or {"image_proj": ..., "ip_adapter": ...} (.bin), as
diffusers' load_ip_adapter reads them; the image encoder (a CLIPVisionModelWithProjection) is the `image_encoder`
folder beside the file (diffusers' default `image_encoder_folder`). SDXL adapters whose encoder lives elsewhere
(the ViT-H "plus" SDXL files use models/image_encoder) need a folder laid out that way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from sdbridge.config import IpAdapterSpec
from sdbridge.errors import ConfigError, ModelNotFoundError
from sdbridge.pipeline.ip_adapter import IpAdapter
from sdbridge.pipeline.ip_adapter_tiny import tiny_ip_adapter

TINY = {"tiny": False, "tiny-plus": True}  # source -> Plus
ENCODER_FOLDER = "image_encoder"


def load_ip_adapter(spec: IpAdapterSpec, components: Any, local_files_only: bool | None = None) -> IpAdapter:
    """The IP-Adapter of `spec` attached to components.unet (its starting scale: spec.scale)."""
    if spec.source in TINY:
        return tiny_ip_adapter(components, plus=TINY[spec.source])
    weights = _resolve(spec.source, local_files_only)
    encoder_dir = weights.parent / ENCODER_FOLDER
    if not encoder_dir.is_dir():
        raise ModelNotFoundError(f"IP-Adapter {spec.source!r}: no image encoder folder {str(encoder_dir)!r}; put the "
                                 "CLIPVisionModelWithProjection (config.json + weights) there")
    from transformers import CLIPVisionModelWithProjection

    encoder = CLIPVisionModelWithProjection.from_pretrained(str(encoder_dir))
    adapter = IpAdapter(components, read_weights(weights), encoder)
    if not adapter.plus and adapter.negative().shape[-1] != encoder.config.projection_dim:
        raise ConfigError(f"IP-Adapter {spec.source!r}: its projection takes {adapter.negative().shape[-1]} "
                          f"features, the image encoder gives {encoder.config.projection_dim}; use its own encoder")
    return adapter


def _resolve(source: str, local_files_only: bool | None) -> Path:
    path = Path(source)
    if path.is_file():
        return path
    parts = source.split("/")
    if len(parts) < 3 or path.exists() or path.is_absolute() or source.startswith(".") or path.parent.is_dir():
        raise ModelNotFoundError(f"IP-Adapter {source!r} is not a weight file or a Hub file OWNER/REPO/PATH; give "
                                 "e.g. h94/IP-Adapter/models/ip-adapter_sd15.safetensors, a local file, or tiny")
    from huggingface_hub import snapshot_download

    repo, file = "/".join(parts[:2]), "/".join(parts[2:])
    folder = str(Path(file).parent / ENCODER_FOLDER)
    try:
        root = snapshot_download(repo, allow_patterns=[file, f"{folder}/*"], local_files_only=bool(local_files_only))
    except Exception as exc:  # huggingface_hub raises several unrelated types (offline, missing, gated)
        raise ModelNotFoundError(f"IP-Adapter {source!r}: cannot fetch {file} of {repo} ({type(exc).__name__}: "
                                 f"{exc}); check the name, or download it (hf download {repo} {file})") from None
    return Path(root) / file


def read_weights(path: Path) -> dict[str, dict[str, torch.Tensor]]:
    """{"image_proj": ..., "ip_adapter": ...} of an IP-Adapter file (.safetensors with prefixed keys, or .bin)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        flat = load_file(str(path))
        state: dict[str, dict[str, torch.Tensor]] = {"image_proj": {}, "ip_adapter": {}}
        for key, value in flat.items():
            head, _, rest = key.partition(".")
            if head in state:
                state[head][rest] = value
        return state
    return torch.load(str(path), map_location="cpu", weights_only=True)


def save_ip_adapter(folder: Path, state: dict[str, dict[str, torch.Tensor]], encoder: Any,
                    name: str = "ip-adapter.safetensors") -> Path:
    """Write an IP-Adapter in the layout load_ip_adapter reads: FOLDER/NAME + FOLDER/image_encoder/; the file."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    flat = {f"{head}.{key}": value.contiguous() for head, part in state.items() for key, value in part.items()}
    save_file(flat, str(folder / name))
    encoder.save_pretrained(str(folder / ENCODER_FOLDER))
    return folder / name
