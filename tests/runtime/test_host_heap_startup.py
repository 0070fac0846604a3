"""Who sets glibc's malloc thresholds (runtime.host_heap.keep_freed_buffers, process-wide): the `sdbridge serve`
entry point, once its server has started, and not the worker or the server that a program builds in-process.

The function is spied on through its module (host_heap.keep_freed_buffers, public); the real one is never
called here, so these tests leave the process's malloc settings alone.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from sdbridge.cli import build_parser
from sdbridge.commands import serve
from sdbridge.runtime import host_heap
from sdbridge.runtime import worker as worker_module
from sdbridge.runtime.pixels import Layout, PixelFormat
from sdbridge.runtime.sessions import ClientInfo, FrameJob, SessionTable
from sdbridge.runtime.worker import Worker
from tests.runtime.fakes import SleepingPipeline, WorkerSink


class _StartedError(Exception):
    """Raised by the spy in the serve test: ends `sdbridge serve` at the call (its `finally` closes the server)."""


def _spy(monkeypatch: pytest.MonkeyPatch, answer: bool = True) -> list[int]:
    calls: list[int] = []

    def spy(*args: object, **kwargs: object) -> bool:
        calls.append(1)
        return answer

    monkeypatch.setattr(host_heap, "keep_freed_buffers", spy)
    return calls


def test_serve_sets_the_thresholds_once_its_server_has_started(monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture,
                                                               tmp_path: Path) -> None:
    config = tmp_path / "server.toml"  # the identity model on a worker thread (not answered inline)
    config.write_text('[model]\nname = "identity"\nidentity_inline = false\n', encoding="utf-8")
    args = build_parser().parse_args(["serve", "--config", str(config), "--bind", "tcp://127.0.0.1:*"])
    seen: list[list[str]] = []

    def spy(*a: object, **k: object) -> bool:
        seen.append([r.getMessage() for r in caplog.records])
        raise _StartedError

    monkeypatch.setattr(host_heap, "keep_freed_buffers", spy)
    with caplog.at_level(logging.INFO), pytest.raises(_StartedError):
        serve.run(args)
    assert len(seen) == 1  # once: the worker the server started did not call it
    assert any(m.startswith("serving identity on tcp://127.0.0.1:") for m in seen[0]), seen[0]


@pytest.mark.parametrize("applied", [True, False])
def test_serve_logs_what_it_set(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
                                applied: bool) -> None:
    calls = _spy(monkeypatch, applied)
    with caplog.at_level(logging.INFO, logger=serve.log.name):
        assert serve.tune_host_heap() is applied
    assert calls == [1]
    expected = (f"under {host_heap.MMAP_THRESHOLD >> 20} MiB" if applied else "left as they are")
    assert any(expected in r.getMessage() for r in caplog.records), caplog.text


def test_a_worker_started_in_process_leaves_the_thresholds_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _spy(monkeypatch)
    host_heap.keep_freed_buffers()  # the spy sees a call made through the module
    assert calls == [1]
    calls.clear()
    assert "keep_freed_buffers" not in vars(worker_module)  # nor can the worker reach the real one by name
    table = SessionTable(max_sessions=1)
    sink = WorkerSink()
    worker = Worker(table, lambda w, h: SleepingPipeline(0.0), lambda layout: (layout.width, layout.height),
                    sink.on_result, sink.on_failure)
    worker.start()
    try:
        session = table.open(b"a", ClientInfo("a"), credits=1)
        layout = Layout.packed(4, 2, PixelFormat.RGBA8)
        table.submit_frame(session, FrameJob(1, 0, layout, bytes(layout.expected_bytes), time.perf_counter()))
        assert sink.done.acquire(timeout=10)  # the worker ran a frame
        assert [r.frame_id for r in sink.results] == [1]
    finally:
        assert worker.stop(timeout=10)
    assert calls == []
