"""`sdbridge build-engines --profile engines/profiles/NAME.toml`: build (or find) a profile's engines ahead of time.

Loads the profile's model, then exports / builds the UNet, VAE encoder and VAE decoder engines into the
engine cache with a progress bar, atomically (an interrupted build leaves nothing loadable). Engines that
are already built are found, not rebuilt. Prints one line per engine folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sdbridge.commands.arg_types import device_name

NAME = "build-engines"
HELP = "build the engines of a profile (engines/profiles/*.toml) into the engine cache ahead of time"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `sdbridge build-engines`."""
    parser.add_argument("--profile", required=True, type=Path, help="engine profile TOML (see engines/README.md)")
    parser.add_argument("--engines-dir", type=Path, default=Path("engines"), help="engine cache (default engines/)")
    parser.add_argument("--model", default=None, help="override the profile's [model] name (e.g. a local folder)")
    parser.add_argument("--device", type=device_name, default=None, help="override the profile's [model] device")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    """Build the profile's engines; exit 0 when all three are in the cache."""
    import dataclasses

    import torch

    from sdbridge.acceleration import AccelOptions
    from sdbridge.acceleration.engine_cache import EngineCache, check_engines_dir
    from sdbridge.acceleration.factory import backend_for, check_available
    from sdbridge.acceleration.profiles import load_profile
    from sdbridge.errors import ConfigError
    from sdbridge.pipeline import load_components

    profile = load_profile(args.profile)
    if args.model or args.device:
        profile = dataclasses.replace(profile, model=args.model or profile.model, device=args.device or profile.device)
    dtype = getattr(torch, profile.dtype, None)
    if not isinstance(dtype, torch.dtype):
        raise ConfigError(f"{profile.path}: [model] dtype={profile.dtype!r} is not a torch dtype "
                          "(float32, float16, bfloat16)")
    engines = check_engines_dir(args.engines_dir)
    components = load_components(profile.model, device=profile.device, dtype=dtype, vae=profile.vae)
    check_available(components, profile.backend)
    options = AccelOptions(profile.backend, engines_dir=engines, shapes=profile.shapes, progress=not args.no_progress)
    runners = backend_for(profile.backend).runners(components, options)
    print(f"engines of {args.profile} ready ({runners.description}) in {engines}:")
    for entry in EngineCache(engines).entries():
        key = entry["key"]
        if key["model"] == components.name and key["backend"] in ("onnx", "tensorrt"):
            print(f"  {entry['digest'][:16]} {key['component']:<12} {key['backend']:<9} {key['dtype']:<8} "
                  f"built {entry['built_at']} in {entry['build_seconds']} s")
    return 0
