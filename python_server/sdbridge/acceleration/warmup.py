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
call and replay it from the third, hence WARM_ROUNDS = 3. Which thread replays what depends on torch's version
(read in its sources, not run on a GPU here). Before 2.13 (the GPU machines' torch 2.11) torch binds each compiled
graph to the graph-tree manager of the thread that first calls it (torch._inductor.cudagraph_trees: the per-shape
function it caches is that manager's `run`), so the graphs recorded here on the loading thread are the ones the
device lane thread replays; a shape first seen while serving is captured on the lane thread in a tree of its own
(static_compile.cudagraph_thread_state). From 2.13 torch keeps the cudagraphified callables per thread
(torch._inductor.compile_fx.cudagraphify holds them in a threading.local): the lane thread records its own graphs
of each warmed shape at its first two calls (a stall on the first frames, and a second memory pool), while the
compilation itself is still done here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from sdbridge.acceleration.static_compile import StaticCompiled, graphs_compiled
from sdbridge.pipeline.guidance import CfgMode, unet_evaluations

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


def warm_up(factory: Callable[[int, int], Any], config: ServerConfig, runners: Sequence[StaticCompiled]) -> float:
    """Compile (and on CUDA capture) every batch of warm_batches(config) through the worker's own call path, then
    start counting compilations as serving ones. Returns the seconds it took."""
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
    for sessions in range(1, len(pipes) + 1):
        for _ in range(WARM_ROUNDS):
            if sessions == 1:
                pipes[0](frame)  # the worker's path for a session alone
            else:
                run_shared([(pipe, frame) for pipe in pipes[:sessions]])
    for runner in runners:
        runner.start_serving()
    seconds = time.perf_counter() - started
    graphs = ", CUDA graphs captured" if any(r.mode == "reduce-overhead" for r in runners) else ""
    log.info("warm in %.1f s: UNet batches %s at %dx%d compiled (%d graphs%s); a shape compiled while serving is "
             "logged as a warning", seconds, list(batches), width, height, graphs_compiled() - graphs_before, graphs)
    return seconds
