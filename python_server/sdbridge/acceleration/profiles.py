"""Engine build profiles (engines/profiles/*.toml): which model, backend, dtype and shape range to build.

    [model]
    name = "stabilityai/sd-turbo"   # preset, Hub id or local folder
    vae = "taesd"                   # "taesd" | "full"
    device = "cuda"
    dtype = "float16"

    [engine]
    backend = "tensorrt"            # "onnxruntime" | "tensorrt"

    [shapes]                        # [min, opt, max]
    width = [384, 512, 768]
    height = [384, 512, 768]
    steps = [1, 1, 4]               # len(t_index_list) to support
    frame_buffer_size = [1, 1, 1]
    cfg_modes = ["none", "self", "initialize", "full"]

The UNet batch range follows from steps, frame_buffer_size and cfg_modes (guidance.unet_evaluations):
min = the smallest batch any of them runs, opt = the first cfg mode at opt steps and opt frames, max = the
largest. Unknown sections or keys are errors naming them, at their `file:line`.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdbridge.acceleration.base import BackendChoice, ShapeRange
from sdbridge.errors import ConfigError
from sdbridge.toml_lines import TomlLines

_ALLOWED = {"model": {"name", "vae", "device", "dtype"}, "engine": {"backend"},
            "shapes": {"width", "height", "steps", "frame_buffer_size", "cfg_modes"}}


@dataclass(frozen=True)
class EngineProfile:
    """A parsed profile."""

    path: Path
    model: str
    vae: str
    device: str
    dtype: str
    backend: BackendChoice
    shapes: ShapeRange


def batch_range(steps: tuple[int, int, int], frames: tuple[int, int, int], modes: list[str]) -> tuple[int, int, int]:
    """(min, opt, max) UNet batch for these step counts, frame buffer sizes and CFG modes.

    Stream Batch runs unet_evaluations(mode, steps, frames) samples per call; the sequential reference
    runs `frames` (2 * frames with full CFG) per call, which the minimum covers.
    """
    from sdbridge.pipeline.guidance import CfgMode, unet_evaluations

    cfg = [CfgMode(m) for m in modes]
    lo = frames[0]
    opt = unet_evaluations(cfg[0], steps[1], frames[1])
    hi = max(unet_evaluations(m, steps[2], frames[2]) for m in cfg)
    return lo, max(lo, opt), hi


def _triple(data: dict[str, Any], key: str, where: str) -> tuple[int, int, int]:
    value = data.get(key)
    if not (isinstance(value, list) and len(value) == 3 and all(isinstance(v, int) and not isinstance(v, bool)
                                                                  for v in value)):
        raise ConfigError(f"{where}: [shapes] {key}={value!r} must be a list of three integers [min, opt, max]")
    return value[0], value[1], value[2]


class _Places:
    """`file:line` of a profile's sections and keys (sdbridge.toml_lines), for errors that name where to look."""

    def __init__(self, path: Path, text: str) -> None:
        self.path, self.lines = path, TomlLines(text)

    def __call__(self, *key: str) -> str:
        line = self.lines.line(key)
        return f"{self.path}:{line}" if line else str(self.path)


def _check_names(data: dict[str, Any], at: _Places) -> None:
    """Unknown sections and keys refused at their line, with the likely meant name."""
    for section, keys in data.items():
        if section not in _ALLOWED:
            raise ConfigError(f"{at(section)}: unknown section [{section}]{_meant(section, _ALLOWED)}; allowed: "
                              f"{sorted(_ALLOWED)}")
        if not isinstance(keys, dict):
            raise ConfigError(f"{at(section)}: {section} must be a [{section}] table")
        for key in keys:
            if key not in _ALLOWED[section]:
                raise ConfigError(f"{at(section, key)}: unknown key {key!r} in [{section}]"
                                  f"{_meant(key, _ALLOWED[section])}; allowed: {sorted(_ALLOWED[section])}")


def _meant(name: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_profile(path: str | Path) -> EngineProfile:
    """Read and check a profile; ConfigError names the file, the line of the key and the fix."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"cannot read engine profile {p}: {exc.strerror}; see engines/profiles/") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from exc
    at = _Places(p, text)
    _check_names(data, at)
    model, engine, shapes = data.get("model", {}), data.get("engine", {}), data.get("shapes", {})
    if "name" not in model:
        raise ConfigError(f"{at('model')}: [model] name is required (a preset, Hub id or local folder)")
    try:
        backend = BackendChoice(engine.get("backend", "onnxruntime"))
    except ValueError as exc:
        raise ConfigError(f"{at('engine', 'backend')}: [engine] backend={engine.get('backend')!r} is not one of "
                          f"{[c.value for c in BackendChoice if c.builds_engines]}") from exc
    if not backend.builds_engines:
        raise ConfigError(f"{at('engine', 'backend')}: [engine] backend={backend.value!r} builds no engines; use "
                          f"onnxruntime or tensorrt")
    modes = shapes.get("cfg_modes", ["none", "self", "initialize", "full"])
    allowed_modes = ["none", "full", "self", "initialize"]
    if not isinstance(modes, list) or not modes or any(m not in allowed_modes for m in modes):
        raise ConfigError(f"{at('shapes', 'cfg_modes')}: [shapes] cfg_modes={modes!r} must be a non-empty list of "
                          f"{allowed_modes}")
    width, height = _triple(shapes, "width", at("shapes", "width")), _triple(shapes, "height", at("shapes", "height"))
    steps = _triple(shapes, "steps", at("shapes", "steps")) if "steps" in shapes else (1, 1, 4)
    frames = (_triple(shapes, "frame_buffer_size", at("shapes", "frame_buffer_size"))
              if "frame_buffer_size" in shapes else (1, 1, 1))
    try:
        shape_range = ShapeRange(batch=batch_range(steps, frames, modes), height=height, width=width,
                                 vae_batch=frames)
    except ConfigError as exc:
        raise ConfigError(f"{at('shapes')}: [shapes] {exc}") from None
    return EngineProfile(path=p, model=str(model["name"]), vae=str(model.get("vae", "taesd")),
                         device=str(model.get("device", "cuda")), dtype=str(model.get("dtype", "float16")),
                         backend=backend, shapes=shape_range)
