"""Prometheus metrics of one replica, attached to the server as a SessionObserver (`sdbridge serve --metrics-port`).

The server knows nothing of what is measured here: the observer sees sessions open and close and results go out
(I/O thread), and reads the session table, the server-wide counters and the replica's readiness when Prometheus
scrapes (the HTTP thread of sdbridge.serving.metrics_http; plain reads of ints and list copies, never a lock the
I/O loop waits on). Every series lives in a registry of its own, so several servers in one process (tests) do
not share them.

Series (all prefixed ``sdbridge_``): sessions_open, sessions_max; frames_{in,out,dropped,skipped}_total in total
(closed sessions included) and session_frames_{in,out,dropped,skipped}_total per live session (labels session,
client); latency_seconds (frame received -> result sent), inference_seconds and queue_wait_seconds histograms;
errors_total by code; credits_in_use (frames in flight); replica_info (model, family, device, accel); ready and
draining; gpu_memory_{allocated,reserved}_bytes where torch reports them (CUDA devices: not run on a GPU here).
"""

from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)

from sdbridge.config import ServerConfig
from sdbridge.protocol import messages as m
from sdbridge.runtime.sessions import FrameJob, ResultJob, Session, SessionTable
from sdbridge.serving.stats import ServerStats

log = logging.getLogger(__name__)

#: Latency buckets (seconds): from 1 ms on a fast GPU to 10 s on a CPU.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_FRAME_COUNTERS = ("in", "out", "dropped", "skipped")


class Hist:
    """A histogram kept by the I/O thread alone (a bisect and two additions per value, no lock: prometheus_client's
    Histogram locks and walks its buckets, several times the cost per frame) and read at scrape time."""

    def __init__(self, name: str, doc: str, bounds: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.name, self.doc = name, doc
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one: above every bound (+Inf)
        self.total = 0.0

    def observe(self, value: float) -> None:
        """Count one value (seconds)."""
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def family(self) -> HistogramMetricFamily:
        """The Prometheus histogram now (cumulative buckets from one copy of the counts)."""
        counts, running, buckets = list(self.counts), 0, []
        for bound, count in zip((*map(str, self.bounds), "+Inf"), counts, strict=True):
            running += count
            buckets.append((bound, running))
        return HistogramMetricFamily(self.name, self.doc, buckets=buckets, sum_value=self.total)


class ReplicaState(Protocol):
    """What the metrics read of the server (sdbridge.server.BridgeServer)."""

    def readiness(self) -> list[str]:
        """Why the replica is not ready for new sessions ([] when it is)."""

    @property
    def draining(self) -> bool:
        """True once the replica was asked to drain."""

    def drain(self, grace_s: float | None = None) -> None:
        """Start draining for at most `grace_s` seconds (thread-safe): POST /drain calls it."""


def frame_counts(session: Session) -> tuple[int, int, int, int]:
    """A session's frames received, results sent, frames dropped (replaced before the worker took them) and
    results skipped by the similarity filter."""
    return session.stats.frames_received, session.frames_out, session.dropped, session.skipped


class MetricsObserver:
    """Histograms fed per result; counters and gauges collected from the server's own state at scrape time."""

    def __init__(self, config: ServerConfig, table: SessionTable, stats: ServerStats) -> None:
        self.config = config
        self.table = table
        self.stats = stats
        self.state: ReplicaState | None = None  # set by bind()
        self.model: Any = None  # sdbridge.served_model.ModelDescription, set by bind()
        self.registry = CollectorRegistry(auto_describe=True)
        self._closed_counts = [0, 0, 0, 0]  # frame counters of the sessions already closed
        self.latency = Hist("sdbridge_latency_seconds", "frame received -> its result sent")
        self.inference = Hist("sdbridge_inference_seconds", "model time of one result")
        self.queue_wait = Hist("sdbridge_queue_wait_seconds", "frame waiting for the worker")
        self.registry.register(_Collector(self))
        self.gpu_memory: Callable[[], dict[str, float]] = lambda: gpu_memory(config.model.device)

    def bind(self, state: ReplicaState, model: Any) -> None:
        """Tell the metrics what they read: the server's readiness and the loaded model."""
        self.state, self.model = state, model

    # ------------------------------------------------------------------ SessionObserver

    def session_opened(self, session: Session) -> None:
        """Nothing to do: the session table is read at scrape time."""

    def session_closed(self, session: Session) -> None:
        """Keep a closed session's frame counts in the totals."""
        for i, value in enumerate(frame_counts(session)):
            self._closed_counts[i] += value

    def input_accepted(self, session: Session, message: m.Message, frame: FrameJob | None) -> None:
        """Nothing to do: frames are counted by the session."""

    def result_sent(self, session: Session, result: ResultJob) -> None:
        """Observe one result's latency, inference time and queue wait."""
        if result.received_at:
            self.latency.observe(time.perf_counter() - result.received_at)
        self.inference.observe(result.timings.get("inference", 0.0))
        self.queue_wait.observe(result.timings.get("queue_wait", 0.0))

    def tick(self, now: float, sessions: Sequence[Session]) -> None:
        """Nothing per loop turn."""

    def totals(self, sessions: Sequence[Session]) -> list[int]:
        """Frame counters of every session so far: the closed ones plus the live `sessions`."""
        totals = list(self._closed_counts)
        for session in sessions:
            for i, value in enumerate(frame_counts(session)):
                totals[i] += value
        return totals


class _Collector:
    """Reads the server's state when Prometheus scrapes (HTTP thread)."""

    def __init__(self, owner: MetricsObserver) -> None:
        self.owner = owner

    def describe(self) -> list[Metric]:
        return []  # collected fresh each scrape (no fixed description)

    def collect(self) -> Iterator[Metric]:
        o = self.owner
        sessions = o.table.sessions()
        yield _gauge("sessions_open", "sessions open now", len(sessions))
        yield _gauge("sessions_max", "limits.max_sessions", o.config.limits.max_sessions)
        yield _gauge("credits_in_use", "frames in flight (sent, result not yet sent)",
                     sum(s.in_flight for s in sessions))
        for name, value in zip(_FRAME_COUNTERS, o.totals(sessions), strict=True):
            yield CounterMetricFamily(f"sdbridge_frames_{name}", f"frames {name}, every session so far", value=value)
        for i, name in enumerate(_FRAME_COUNTERS):
            family = CounterMetricFamily(f"sdbridge_session_frames_{name}", f"frames {name} of a live session",
                                         labels=["session", "client"])
            for s in sessions:
                family.add_metric([str(s.session_id), s.client.name], frame_counts(s)[i])
            yield family
        errors = CounterMetricFamily("sdbridge_errors", "Errors sent, by code", labels=["code"])
        for code, count in sorted(dict(o.stats.rejected).items()):
            errors.add_metric([code], count)
        yield errors
        for hist in (o.latency, o.inference, o.queue_wait):
            yield hist.family()
        yield from self._replica()

    def _replica(self) -> Iterator[Metric]:
        o = self.owner
        model = o.model
        info = InfoMetricFamily("sdbridge_replica", "the served model and device")
        info.add_metric([], {"model": model.name if model is not None else "", "device": o.config.model.device,
                             "family": model.family.name if model is not None else "",
                             "accel": o.config.accel.backend.value})
        yield info
        state = o.state
        yield _gauge("ready", "1 when /readyz says ready", 0 if state is None or state.readiness() else 1)
        yield _gauge("draining", "1 once the replica drains", 1 if state is not None and state.draining else 0)
        for kind, value in o.gpu_memory().items():
            yield _gauge(f"gpu_memory_{kind}_bytes", f"torch.cuda.memory_{kind} of the model's device", value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"sdbridge_{name}", doc, value=value)


def gpu_memory(device: str) -> dict[str, float]:
    """Bytes allocated and reserved by torch on a CUDA `device` ({} elsewhere, or before torch is imported).
    Not run on a GPU here: the CUDA branch is tested with torch.cuda's functions patched."""
    import sys

    torch = sys.modules.get("torch")  # never import torch for a scrape (the identity model may not need it)
    if torch is None or not device.startswith("cuda") or not torch.cuda.is_available():
        return {}
    return {"allocated": float(torch.cuda.memory_allocated(device)),
            "reserved": float(torch.cuda.memory_reserved(device))}


class MetricsPart:
    """The metrics as the server attaches them: the observer plus its HTTP port (started once the model is
    loaded and the ROUTER bound)."""

    def __init__(self, config: ServerConfig, table: SessionTable, stats: ServerStats) -> None:
        self.observer = MetricsObserver(config, table, stats)
        self.config = config
        self.http: Any = None  # sdbridge.serving.metrics_http.MetricsServer once started
        self.url = ""

    def start(self, state: ReplicaState, model: Any) -> str:
        """Serve /metrics, /healthz and /readyz; returns the base address."""
        from sdbridge.serving.metrics_http import MetricsServer

        self.observer.bind(state, model)
        self.http = MetricsServer(self.config.metrics, self.observer.registry, state.readiness, state.drain)
        self.url = self.http.start()
        return self.url

    def close(self) -> None:
        """Stop the HTTP port (idempotent)."""
        if self.http is not None:
            self.http.close()
            self.http = None
