"""The compiled backend's warm-up runs on the thread that serves: load_model warms the model on a device lane,
the worker adopts that lane, and serving records no CUDA graph of a warmed shape.

torch from 2.13 keeps the cudagraphified callables per thread (torch._inductor.compile_fx.cudagraphify holds them
in a threading.local): a thread runs a new shape once as a warm-up, records its graph at the second call and
replays it from the third, whatever other threads did. `_PerThreadGraphs` stands in for torch.compile with that
behaviour (no GPU here: it calls the module eagerly and counts calls per thread and shape); the served model is
the tiny one, the worker the real one.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from sdbridge.acceleration import compiled as compiled_module
from sdbridge.acceleration.static_compile import ShapeKey, shape_key
from sdbridge.config import Accel, ServerConfig, with_overrides
from sdbridge.runtime.device_lane import WarmedFactory
from sdbridge.runtime.pixels import Layout, PixelFormat
from sdbridge.runtime.sessions import ClientInfo, FrameJob, ResultJob, SessionTable
from sdbridge.runtime.worker import Worker, WorkerFailure
from sdbridge.served_model import load_model
from tests.conftest import wait_for

SIZE = 64


class _Graphs:
    """What the fake compiled modules did: calls per (module, thread, shapes), and the graphs recorded."""

    def __init__(self) -> None:
        self.calls: collections.Counter[tuple[str, threading.Thread, ShapeKey]] = collections.Counter()
        self.recorded: list[tuple[str, threading.Thread, ShapeKey]] = []  # (module, thread, shapes), in order
        self.lock = threading.Lock()

    def threads_calling(self) -> set[threading.Thread]:
        with self.lock:
            return {thread for _, thread, _ in self.calls}


class _PerThreadGraphs:
    """torch.compile(mode="reduce-overhead") as torch 2.13 keeps its CUDA graphs: per thread and input shapes, the
    first call is a warm-up run, the second records a graph, the later ones replay it."""

    def __init__(self, module: torch.nn.Module, graphs: _Graphs) -> None:
        self.module = module
        self.name = type(module).__name__
        self.graphs = graphs

    def __call__(self, *args: Any) -> Any:
        key = (self.name, threading.current_thread(), shape_key(args))
        with self.graphs.lock:
            self.graphs.calls[key] += 1
            if self.graphs.calls[key] == 2:
                self.graphs.recorded.append(key)
        return self.module(*args)


@pytest.fixture
def graphs(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Graphs]:
    """torch.compile replaced by _PerThreadGraphs (the backend's own checks skipped: compiler "eager")."""
    made = _Graphs()
    monkeypatch.setattr(compiled_module, "COMPILER", "eager")
    monkeypatch.setattr(torch, "compile", lambda module, **_: _PerThreadGraphs(module, made))
    yield made


def _config(max_sessions: int) -> ServerConfig:
    return with_overrides(ServerConfig(), model={"name": "tiny", "width": SIZE, "height": SIZE},
                          top={"bind": "tcp://127.0.0.1:*"}, limits={"max_sessions": max_sessions},
                          accel={"backend": Accel.COMPILE})


def _frame(frame_id: int, rng: np.random.Generator) -> FrameJob:
    pixels = rng.integers(0, 256, (SIZE, SIZE, 4), dtype=np.uint8)  # a new image: the UNet runs every time
    return FrameJob(frame_id, 0, Layout.packed(SIZE, SIZE, PixelFormat.RGBA8), pixels.tobytes(), time.perf_counter())


def _serve(factory: Any, config: ServerConfig, rounds: int) -> tuple[list[ResultJob], list[WorkerFailure]]:
    """Two sessions, each sending its next frame when its result is back, `rounds` frames each, through the
    pipelined worker (the server's: shared UNet batches)."""
    table = SessionTable(max_sessions=2)
    results: list[ResultJob] = []
    failures: list[WorkerFailure] = []
    worker = Worker(table, factory, lambda layout: (SIZE, SIZE), results.append, failures.append,
                    default_prompt={"prompt": config.pipeline.prompt},
                    share_unet_batch=config.model.share_unet_batch,
                    device=config.model.device)
    sessions = [table.open(key, ClientInfo(key.decode()), credits=2) for key in (b"a", b"b")]
    rng = np.random.default_rng(5)
    worker.start()
    try:
        for n in range(1, rounds + 1):
            for session in sessions:
                table.submit_frame(session, _frame(n, rng))
            wait_for(lambda n=n: len(results) + len(failures) >= 2 * n, timeout=120, what=f"round {n}'s results")
    finally:
        assert worker.stop(30)
    return results, failures


def test_serving_replays_the_warm_ups_graphs_on_the_thread_that_recorded_them(graphs: _Graphs) -> None:
    config = _config(max_sessions=2)
    factory, _ = load_model(config)
    assert isinstance(factory, WarmedFactory)
    warm_threads = graphs.threads_calling()
    warmed = list(graphs.recorded)
    assert len(warm_threads) == 1 and warmed  # every warm-up call on one thread (the lane's), which recorded
    assert threading.current_thread() not in warm_threads  # not the loading thread
    results, failures = _serve(factory, config, rounds=4)
    assert not failures and len(results) == 8
    assert graphs.threads_calling() == warm_threads  # the model was called on the warmed thread only...
    assert graphs.recorded == warmed, "serving recorded CUDA graphs of its own"  # ...which replayed its graphs

    # control: the fake does record for a thread that did not warm up (as serving on a new lane thread would)
    def other_thread() -> None:
        pipe = factory(SIZE, SIZE)
        pipe.prepare(config.pipeline.prompt)
        for _ in range(2):
            pipe(np.full((SIZE, SIZE, 3), 7, np.uint8))

    thread = threading.Thread(target=other_thread, name="not-the-lane")
    thread.start()
    thread.join(120)
    assert not thread.is_alive()
    assert {t.name for _, t, _ in graphs.recorded[len(warmed):]} == {"not-the-lane"}


def test_a_second_worker_over_the_factory_gets_a_lane_of_its_own(graphs: _Graphs) -> None:
    """The warmed lane is adopted once (then closed with its worker); another worker still serves, on a new lane."""
    config = _config(max_sessions=2)
    factory, _ = load_model(config)
    first, _ = _serve(factory, config, rounds=1)
    second, failures = _serve(factory, config, rounds=1)
    assert len(first) == 2 and len(second) == 2 and not failures
    assert len(graphs.threads_calling()) == 2


def test_a_server_whose_start_fails_after_loading_closes_the_warmed_lane(graphs: _Graphs) -> None:
    """The bind fails once the model is warm: close() ends the lane thread no worker adopted."""
    from sdbridge.errors import TransportError
    from sdbridge.server import BridgeServer

    holder = BridgeServer(with_overrides(ServerConfig(), model={"name": "identity"}, top={"bind": "tcp://127.0.0.1:*"}))
    taken = holder.start()  # a port in use
    try:
        before = {t for t in threading.enumerate() if t.name == "sdbridge-device"}
        server = BridgeServer(with_overrides(_config(max_sessions=1), top={"bind": taken}))
        with pytest.raises(TransportError, match="cannot bind"):
            server.start()
        lanes = [t for t in threading.enumerate() if t.name == "sdbridge-device" and t not in before]
        assert len(lanes) == 1 and graphs.recorded  # the model was warmed on its own lane, which is still up
        server.close()
        lanes[0].join(10)
        assert not lanes[0].is_alive()
    finally:
        holder.close()
