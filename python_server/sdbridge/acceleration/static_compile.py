"""Static-shape torch.compile runners: one compiled graph per input shape, compiled at load, counted while serving.

`StaticCompiled` wraps one export module (export_modules.py) in `torch.compile(dynamic=False)`: each input shape
gets a graph of its own (in mode "reduce-overhead" on CUDA also a CUDA graph of its own), so the shapes the server
uses are compiled once before it binds (acceleration/warmup.py) and only replayed afterwards. A shape seen for
the first time while serving is compiled then, which stalls every session for as long as it takes: that is
logged as a warning naming the module, the shape, the warmed shapes and the fix, and counted.

The count is torch._dynamo's own `unique_graphs` counter, read around every call (the worker is the only thread
that calls the model while serving): `compiles_at_load` before `start_serving()`, `compiles_serving` after. Any
recompilation, whatever its cause (a new shape, a guard that no longer holds), shows in `compiles_serving`.

Threads (mode "reduce-overhead"; not run on a GPU here): the warm-up and the serving calls both run on the
worker's device lane thread (acceleration/warmup.py: the lane is made for the warm-up, then adopted by the
worker). CUDA graph trees keep their tree managers in per-thread state that torch before 2.13 sets up only on the
thread that imported torch._inductor.cudagraph_trees: a graph first captured on any other thread (now every
graph: the lane thread captures them all) failed an assertion in its get_obj (`torch._C._is_key_in_tls`), on
every call of that shape. `cudagraph_thread_state()` gives each calling thread that state, as torch 2.13 does
itself; a thread then captures its new graphs in a tree (and memory pool) of its own. From torch 2.13 the
cudagraphified callables are per thread too, which is why the warm-up runs on the lane thread (see
acceleration/warmup.py).
"""

from __future__ import annotations

import collections
import logging
import threading
import time

import torch

log = logging.getLogger(__name__)

#: The shape of every tensor argument of one call, None for the others (the UNet's absent SDXL inputs).
ShapeKey = tuple[tuple[int, ...] | None, ...]


def shape_key(args: tuple[object, ...]) -> ShapeKey:
    """The shapes of `args` (None where an argument is not a tensor)."""
    return tuple(tuple(a.shape) if isinstance(a, torch.Tensor) else None for a in args)


def graphs_compiled() -> int:
    """Graphs torch.compile compiled in this process so far (torch._dynamo's `unique_graphs` counter)."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


_THREAD = threading.local()


def cudagraph_thread_state() -> None:
    """Give the calling thread CUDA graph trees' per-thread state (its tree manager containers) where torch would
    fail an assertion instead (torch < 2.13; see the module docstring). Once per thread; nothing on torch that sets
    it up itself (cudagraph_trees._initialize_tls) or where the thread has it."""
    if getattr(_THREAD, "cudagraph_ready", False):
        return
    from torch._inductor import cudagraph_trees as trees

    local = trees.local
    if not (hasattr(trees, "_initialize_tls") or hasattr(local, "tree_manager_containers")
            or torch._C._is_key_in_tls("tree_manager_containers")):
        local.tree_manager_containers = {}  # what torch 2.13's _initialize_tls sets up on first use
        local.tree_manager_locks = collections.defaultdict(threading.Lock)
        log.info("compile: CUDA graph trees set up for thread %s", threading.current_thread().name)
    _THREAD.cudagraph_ready = True


class StaticCompiled:
    """One module under `torch.compile(backend=compiler, mode=mode, dynamic=False)`, callable like the module."""

    def __init__(self, name: str, module: torch.nn.Module, compiler: str, mode: str | None) -> None:
        self.name = name
        self.mode = mode
        self._compiled = torch.compile(module, backend=compiler, mode=mode, dynamic=False)
        self._seen: set[ShapeKey] = set()
        self.serving = False
        #: graphs compiled for this module before start_serving() (the warm-up) and after it
        self.compiles_at_load = 0
        self.compiles_serving = 0

    @property
    def shapes(self) -> frozenset[ShapeKey]:
        """The input shapes this module has run (compiled) so far."""
        return frozenset(self._seen)

    def start_serving(self) -> None:
        """The warm-up is over: from now on a compilation is counted in compiles_serving and logged as a warning."""
        self.serving = True

    def __call__(self, *args: torch.Tensor | None) -> torch.Tensor:
        key = shape_key(args)
        unwarmed = self.serving and key not in self._seen
        if unwarmed:
            log.warning(
                "compile: %s input shapes %s were not warmed at load (warmed: %s); compiling them now stalls every "
                "session. A client changed the steps (t_index_list length) or the CFG mode from the server "
                "config's: set [pipeline] t_index_list / cfg_mode to what clients use so the warm-up covers it",
                self.name, key, sorted(self._seen, key=str))
        if self.mode == "reduce-overhead":
            cudagraph_thread_state()  # the lane thread may capture a graph (module docstring)
        before, started = graphs_compiled(), time.perf_counter()
        out: torch.Tensor = self._compiled(*args)
        compiled = graphs_compiled() - before
        self._seen.add(key)
        if compiled and self.serving:
            self.compiles_serving += compiled
            log.warning("compile: %s compiled %d graph(s) for shapes %s while serving, in %.1f s", self.name,
                        compiled, key, time.perf_counter() - started)
        elif not self.serving:
            self.compiles_at_load += compiled
        return out
