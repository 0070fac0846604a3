"""The server's use of acceleration: `[accel]` of the server config -> accelerated components.

The shape range is the engine profile's (`[accel] profile`) or else the model size (the server processes
frames at [model] width x height) with UNet batches 1 .. 2 x max(4, steps), which covers every CFG mode up to
4 steps (clients change the CFG mode and t_index_list at run time). A backend that cannot run raises here,
before the server binds; a background build that fails later calls `on_fatal` (the server stops).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sdbridge.acceleration.base import AccelOptions, BackendChoice, ShapeRange
from sdbridge.acceleration.factory import AccelHandle, accelerate_with_handle
from sdbridge.pipeline.guidance import CfgMode, unet_evaluations

if TYPE_CHECKING:
    from sdbridge.config import ServerConfig
    from sdbridge.pipeline import Components

log = logging.getLogger(__name__)


def server_shapes(config: ServerConfig) -> ShapeRange:
    """The shape range engines are built for when serving `config`."""
    if config.accel.profile:
        from sdbridge.acceleration.profiles import load_profile

        return load_profile(config.accel.profile).shapes
    steps = len(config.pipeline.t_index_list)
    opt = unet_evaluations(CfgMode(config.pipeline.cfg_mode.value), steps)
    top = max(opt, 2 * max(4, steps))
    h, w = config.model.height, config.model.width
    return ShapeRange(batch=(1, opt, top), height=(h, h, h), width=(w, w, w), vae_batch=(1, 1, 1))


def accelerate_for_server(components: Components, config: ServerConfig,
                          on_fatal: Callable[[BaseException], None] | None = None) -> tuple[Components, AccelHandle]:
    """`components` on the configured backend (foreground build, or background with a torch fallback that is
    announced in the log and replaced when the engines are ready), and the handle of its runners (the compiled
    backend's warm-up reaches them there: acceleration/warmup.py)."""
    accel = config.accel
    options = AccelOptions(BackendChoice(accel.backend.value), engines_dir=Path(accel.engines_dir),
                           background=accel.background, threads=accel.threads, cuda_graphs=accel.cuda_graphs,
                           shapes=server_shapes(config), ort_providers=tuple(accel.ort_providers))
    accelerated, handle = accelerate_with_handle(components, options, on_error=on_fatal)
    log.info("acceleration %s: %s%s", options.backend.value, handle.description,
             "" if handle.ready else " until the background build finishes")
    return accelerated, handle
