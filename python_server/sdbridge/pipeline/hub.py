"""Which files of a Hugging Face Hub repository a model needs, fetching them, and the command that does it.

A diffusers repository holds each weight file in several variants (e.g. `unet/diffusion_pytorch_model
.safetensors` in float32, `.fp16.safetensors`, `.non_ema.safetensors`, often `.bin` copies too): fetching
every `*.safetensors` would download each component two or three times. The patterns here name one
variant: the fp16 files when the model is served in float16, else the plain (full precision) files.
No torch import; the only network access is `snapshot`, through huggingface_hub.
"""

from __future__ import annotations

import importlib.util
import logging
import shlex
from dataclasses import dataclass
from pathlib import Path

from sdbridge.errors import ModelNotFoundError

log = logging.getLogger(__name__)

CONFIG_PATTERNS = ("*.json", "*.txt")  # configs, tokenizer vocabularies, model_index.json: small files
FP16 = "fp16"


@dataclass(frozen=True)
class FilePatterns:
    """allow/ignore patterns (fnmatch, as snapshot_download and `hf download` use them)."""

    allow: tuple[str, ...]
    ignore: tuple[str, ...] = ()

    def __add__(self, other: FilePatterns) -> FilePatterns:
        return FilePatterns(self.allow + other.allow, self.ignore + other.ignore)


def weight_patterns(subfolder: str, variant: str | None, stem: str = "*") -> FilePatterns:
    """The safetensors weights of one component (`subfolder` "" = the repository root) in one variant.

    variant "fp16": `stem.fp16.safetensors` and its shards `stem.fp16-00001-of-0000n.safetensors`.
    variant None: `stem.safetensors` and its shards, and no `stem.<anything>.safetensors` variant file.
    """
    prefix = f"{subfolder}/" if subfolder else ""
    if variant is not None:
        return FilePatterns((f"{prefix}{stem}.{variant}*.safetensors",))
    shards = "" if stem == "*" else "*"  # "stem-00001-of-00002.safetensors"; "*" already covers them
    return FilePatterns((f"{prefix}{stem}{shards}.safetensors",), (f"{prefix}{stem}.*.safetensors",))


def model_patterns(subfolders: list[str], variant: str | None) -> FilePatterns:
    """Configs plus one weight variant of each of `subfolders` (e.g. ["unet", "text_encoder"])."""
    patterns = FilePatterns(CONFIG_PATTERNS)
    for sub in subfolders:
        patterns = patterns + weight_patterns(sub, variant)
    return patterns


def variant_for(dtype_name: str) -> str | None:
    """The weight variant to fetch for a model served in `dtype_name` ("float16" -> "fp16", else plain)."""
    return FP16 if dtype_name == "float16" else None


def fetch_command(repo_id: str, patterns: FilePatterns) -> str:
    """The shell command of the installed huggingface_hub that fetches exactly these files into the cache.

    huggingface_hub 0.34 added the `hf` CLI, whose --include/--exclude take one pattern each (repeated);
    1.0 removed `huggingface-cli`, whose --include/--exclude take a list after one flag.
    """
    if importlib.util.find_spec("huggingface_hub.cli.hf") is not None:
        words = ["hf", "download", repo_id]
        for flag, values in (("--include", patterns.allow), ("--exclude", patterns.ignore)):
            for value in values:
                words += [flag, value]
        return shlex.join(words)
    words = ["huggingface-cli", "download", repo_id, "--include", *patterns.allow]
    if patterns.ignore:
        words += ["--exclude", *patterns.ignore]
    return shlex.join(words)


def snapshot(repo_id: str, patterns: FilePatterns, local_files_only: bool | None,
             hint: FilePatterns | None = None) -> Path:
    """The local snapshot folder of `repo_id` holding the files `patterns` name (downloaded if needed).

    `hint`: the files the error's fetch command names (default `patterns`), e.g. the weights that a
    configs-only fetch will be followed by.
    """
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    offline = constants.HF_HUB_OFFLINE if local_files_only is None else local_files_only
    try:
        return Path(snapshot_download(repo_id, allow_patterns=list(patterns.allow),
                                      ignore_patterns=list(patterns.ignore) or None, local_files_only=offline))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
        raise ModelNotFoundError(
            f"model {repo_id!r} is not on disk (looked in the Hugging Face cache {constants.HF_HUB_CACHE}) "
            f"and the Hub could not be reached{' (offline mode)' if offline else ''}: {type(exc).__name__}. "
            f"Fetch it on a machine with network with `{fetch_command(repo_id, hint or patterns)}` and copy the cache, "
            "or pass a local diffusers folder"
        ) from exc


def has_weights(folder: Path, variant: str | None, stem: str = "*") -> bool:
    """True when `folder` holds safetensors weights of `variant` (None = the plain ones)."""
    if variant is not None:
        return any(folder.glob(f"{stem}.{variant}*.safetensors"))
    pattern = "*.safetensors" if stem == "*" else f"{stem}*.safetensors"
    return any(p for p in folder.glob(pattern) if p.name.count(".") == 1)


def fetch_weights(repo_id: str, subfolders: list[str], variant: str | None,
                  local_files_only: bool | None) -> Path:
    """Fetch configs plus one weight variant of `subfolders`; components without that variant get the plain one.

    Returns the snapshot folder. A component whose weights are still missing (offline, incomplete cache)
    raises ModelNotFoundError naming the command that fetches it.
    """
    folder = snapshot(repo_id, model_patterns(subfolders, variant), local_files_only)
    if variant is not None:
        plain = [s for s in subfolders if not has_weights(folder / s, variant)]
        if plain:
            log.info("%s has no %s weights for %s: fetching the full-precision ones (converted at load)",
                     repo_id, variant, ", ".join(plain))
            folder = snapshot(repo_id, model_patterns(plain, None), local_files_only)
    missing = [s for s in subfolders if not has_weights(folder / s, variant) and not has_weights(folder / s, None)]
    if missing:
        raise ModelNotFoundError(
            f"model {repo_id!r} in the Hugging Face cache ({folder}) lacks the weights of {', '.join(missing)}. "
            f"Fetch them with `{fetch_command(repo_id, model_patterns(missing, variant))}`"
        )
    return folder
