"""The compiled backend's warm-up: every UNet batch the server will use is compiled (and captured) before it binds.

The server's UNet batches: one session's frame is `steps x CFG multiplier x frame_buffer_size` samples
(guidance.unet_evaluations; the server runs frame_buffer_size 1), and the worker runs the frames of every waiting
session at the same size as ONE call when `[model] share_unet_batch` (runtime/worker.py), so up to
`[limits] max_sessions` sessions: batches b, 2b, ..., max_sessions x b. `load_model` (served_model.py) runs each
of them WARM_ROUNDS times through the very path the worker takes (a pipeline call alone, `run_shared` for
several), at the model size, under inference mode, with the configured steps and CFG mode, then logs
"warm in N s". The VAE encoder and decoder are warmed on the way (a shared call encodes and decodes the
frames of all its sessions as one batch).

Not warmed (compiled when first used, logged as a warning and counted: static_compile.py): a client that changes
the number of steps or the CFG mode, sessions at another size (`processing_size = "client"`), and shared calls
mixing sessions whose batches differ.

CUDA graphs (not run on a GPU here): CUDA graph trees run a new graph once as a warm-up, record it at its second
call and replay it from the third, hence WARM_ROUNDS = 3. The warm-up's calls run on the thread that will replay
them while serving: `warm_on_lane` makes the device lane first (runtime/device_lane.py: its own thread, and its
own stream on CUDA), runs every call there (`DeviceLane.call`) while the loading thread waits and logs each batch,
and returns a `WarmedFactory` holding that lane; the worker serving the factory adopts it (`lane_for`). That
matters from torch 2.13, which keeps the cudagraphified callables per thread (torch._inductor.compile_fx.
cudagraphify: `thread_local = threading.local()`, and its `run` builds a new cudagraphified function, with a new
tree manager and memory pool, for a thread whose `thread_local.compiled_fn` is None): graphs recorded on the
loading thread would never be replayed, and the lane thread would record its own at its first two calls of each
shape (a stall on the first frames served, and a second memory pool). Before 2.13 (read in its sources) a compiled
graph is bound to the tree manager of the first thread that calls it, which is now the lane thread too. So for
every torch version, after "warm in N s" no warmed shape is recorded while serving; a shape first seen while
serving is compiled and captured on the lane thread (static_compile.py). The compilation itself (dynamo,
inductor) happens at each shape's first call, so on the lane thread as well. A second worker over the same
factory, or the serial worker (pipelined=False, tests only), calls the model on another thread, which records its
own graphs.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from sdbridge.acceleration.static_compile import StaticCompiled, graphs_compiled
from sdbridge.pipeline.guidance import CfgMode, unet_evaluations
from sdbridge.runtime.device_lane import DeviceLane, WarmedFactory

if TYPE_CHECKING:
    from sdbridge.acceleration.factory import AccelHandle
    from sdbridge.config import ServerConfig

log = logging.getLogger(__name__)

#: Calls per batch size: CUDA graph trees warm a new graph up once, record it on the second call, replay on the third.
WARM_ROUNDS = 3
#: Graphs torch may still compile per function while serving (unwarmed shapes) before it runs them uncompiled.
UNWARMED_ALLOWANCE = 16


def warm_batches(config: ServerConfig) -> tuple[int, ...]:
    """The UNet batch sizes serving `config` uses: per-session samples times 1 .. the sessions sharing a call."""
    per_session = unet_evaluations(CfgMode(config.pipeline.cfg_mode.value), len(config.pipeline.t_index_list))
    sessions = config.limits.max_sessions if config.model.share_unet_batch else 1
    return tuple(per_session * k for k in range(1, sessions + 1))


def compiled_runners(handle: AccelHandle | None) -> tuple[StaticCompiled, ...]:
    """The static-shape compiled runners behind `handle` (none for the other backends)."""
    runners = handle.slot.current if handle is not None and handle.slot is not None else None
    if runners is None:
        return ()
    return tuple(r for r in (runners.unet, runners.vae_encode, runners.vae_decode) if isinstance(r, StaticCompiled))


def allow_recompiles(sizes: int) -> None:
    """Let torch keep a graph per warmed size plus UNWARMED_ALLOWANCE (its default limit of 8 per function would
    run the ninth size uncompiled)."""
    import torch._dynamo

    config: Any = torch._dynamo.config
    name = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
    setattr(config, name, max(int(getattr(config, name)), sizes + UNWARMED_ALLOWANCE))


def cuda_device(config: ServerConfig) -> Any:
    """The torch.device of the model when it is a CUDA one (the lane runs its calls on its stream there), else
    None."""
    if not config.model.device.startswith("cuda"):
        return None
    import torch

    return torch.device(config.model.device)


def warm_on_lane(factory: Callable[[int, int], Any], config: ServerConfig,
                 runners: Sequence[StaticCompiled]) -> WarmedFactory:
    """`warm_up` with every call on a new device lane's thread; returns the factory holding that lane, for the
    worker to adopt (module docstring). The lane is closed when the warm-up fails."""
    lane = DeviceLane(lambda: None, device=config.model.device)
    try:
        warm_up(factory, config, runners, lane)
    except BaseException:
        lane.close()
        raise
    return WarmedFactory(factory, lane)


def warm_up(factory: Callable[[int, int], Any], config: ServerConfig, runners: Sequence[StaticCompiled],
            lane: DeviceLane | None = None) -> float:
    """Compile (and on CUDA capture) every batch of warm_batches(config) through the worker's own call path, on
    `lane`'s thread (the calling thread when None), then start counting compilations as serving ones. Returns the
    seconds it took."""
    from sdbridge.pipeline.shared_batch import run_shared

    started, graphs_before = time.perf_counter(), graphs_compiled()
    batches = warm_batches(config)
    allow_recompiles(len(batches))
    width, height = config.model.width, config.model.height
    pipes = [factory(width, height) for _ in batches]
    for pipe in pipes:
        pipe.update(similarity_filter=False)  # a repeated frame must reach the UNet every time
        pipe.prepare(config.pipeline.prompt, config.pipeline.negative_prompt)
    frame = np.full((height, width, 3), 128, np.uint8)
    device = cuda_device(config)
    for sessions in range(1, len(pipes) + 1):
        batch_started = time.perf_counter()
        for _ in range(WARM_ROUNDS):
            if sessions == 1:
                call = functools.partial(pipes[0], frame)  # the worker's path for a session alone
            else:
                call = functools.partial(run_shared, [(pipe, frame) for pipe in pipes[:sessions]])
            if lane is None:
                call()
            else:
                lane.call(call, device)
        log.info("warm: UNet batch %d (%d session(s)) x%d on %s in %.1f s", batches[sessions - 1], sessions,
                 WARM_ROUNDS, lane.thread.name if lane is not None else threading.current_thread().name,
                 time.perf_counter() - batch_started)
    for runner in runners:
        runner.start_serving()
    seconds = time.perf_counter() - started
    graphs = ", CUDA graphs captured" if any(r.mode == "reduce-overhead" for r in runners) else ""
    log.info("warm in %.1f s: UNet batches %s at %dx%d compiled (%d graphs%s); a shape compiled while serving is "
             "logged as a warning", seconds, list(batches), width, height, graphs_compiled() - graphs_before, graphs)
    return seconds
