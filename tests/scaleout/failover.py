"""Pieces of the failover test (test_failover.py): replicas as `sdbridge serve` processes with a metrics port,
Debian's haproxy with deploy/haproxy/haproxy.cfg on free loopback ports, and streaming clients that check every
result (identity model: exact pixels, its own frame, its own session) and log when each result came."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sdbridge.errors import TransportError
from sdbridge.transport.client import BridgeClient
from tests.reliability.load import ServerProcess
from tests.scaleout.helpers import free_port, get

ROOT = Path(__file__).resolve().parents[2]
HAPROXY_CFG = ROOT / "deploy" / "haproxy" / "haproxy.cfg"
SIZE = 32


@dataclass
class Replica:
    """One replica: its `sdbridge serve` process, ZeroMQ port and metrics port."""

    process: ServerProcess
    port: int
    metrics_port: int

    @classmethod
    def start(cls, grace_s: float, max_sessions: int) -> Replica:
        """Start a replica on free ports and wait until it is ready (/readyz 200)."""
        port, metrics_port = free_port(), free_port()
        process = ServerProcess("identity", port, max_sessions=max_sessions,
                                extra=["--metrics-port", str(metrics_port), "--drain-grace", str(grace_s)])
        return cls(process, port, metrics_port)

    def ready(self) -> bool:
        """True while /readyz answers 200."""
        return get(f"http://127.0.0.1:{self.metrics_port}/readyz", timeout=1)[0] == 200


def render_haproxy(replicas: list[Replica], front_port: int, path: Path) -> Path:
    """deploy/haproxy/haproxy.cfg with the test's free ports in place of the documented ones."""
    text = HAPROXY_CFG.read_text(encoding="utf-8")
    swaps = {"bind 127.0.0.1:5555": f"bind 127.0.0.1:{front_port}"}
    for i, r in enumerate(replicas, start=1):
        swaps[f"127.0.0.1:{5600 + i} check port {9600 + i}"] = f"127.0.0.1:{r.port} check port {r.metrics_port}"
    for old, new in swaps.items():
        assert text.count(old) == 1, f"{HAPROXY_CFG} no longer has {old!r} once"
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


def start_haproxy(config: Path) -> subprocess.Popen[bytes]:
    """Debian's haproxy in the foreground (-db) on `config`."""
    haproxy = shutil.which("haproxy")
    assert haproxy is not None
    subprocess.run([haproxy, "-c", "-q", "-f", str(config)], check=True, timeout=30)
    return subprocess.Popen([haproxy, "-db", "-f", str(config)], stdout=subprocess.DEVNULL,
                            stderr=(config.parent / "haproxy.log").open("wb"))


def tear_down(streamers: list[Streamer], threads: list[threading.Thread], balancer: subprocess.Popen[bytes] | None,
              servers: list[ServerProcess]) -> None:
    """Stop the clients (and join their threads), then the balancer, then the replicas: the one teardown of the
    failover test and of scripts/scale_demo.sh. Every step runs even when an earlier one raised."""
    try:
        for s in streamers:
            s.stop.set()
        for t in threads:
            t.join(10)
    finally:
        try:
            if balancer is not None:
                balancer.terminate()
                balancer.wait(10)
        finally:
            for server in servers:
                server.stop()


def frame(index: int, frame_id: int) -> np.ndarray:
    """A frame no other client or frame has: client index and frame id written into its pixels."""
    image = np.full((SIZE, SIZE, 4), index * 7 % 256, dtype=np.uint8)
    image[0, :4] = np.frombuffer(np.array([index, frame_id], dtype="<u8").tobytes(), dtype=np.uint8).reshape(4, 4)
    return image


@dataclass
class Streamer:
    """A client streaming through the balancer (one thread), at most one frame per `period` s."""

    endpoint: str
    index: int
    period: float = 0.03
    results_at: list[float] = field(default_factory=list)  # time.monotonic() of each result
    sent: int = 0
    unanswered: dict[int, float] = field(default_factory=dict)  # frame id -> when sent, until its result comes
    moves: list[float] = field(default_factory=list)  # time.monotonic() of each new session (a move)
    wrong: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    client: BridgeClient | None = None

    def start(self) -> threading.Thread:
        """Connect (through the balancer) and stream in a thread."""
        self.client = BridgeClient(self.endpoint, name=f"failover-{self.index}", lost_after=1.0)
        self.client.connect(timeout=30)
        self.client.set_prompt(f"client {self.index}")  # replayed on every move
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        client = self.client
        assert client is not None
        sent: dict[int, np.ndarray] = {}
        session = client.session_id
        while not self.stop.is_set():
            try:
                if client.credits > 0 and not client.pending:
                    frame_id = client.next_frame_id
                    image = frame(self.index, frame_id)
                    client.submit(image)
                    sent[frame_id] = image
                    self.unanswered[frame_id] = time.monotonic()
                    self.sent += 1
                result = client.receive(timeout=self.period)
                if client.session_id != session:
                    session = client.session_id
                    self.moves.append(time.monotonic())
            except TransportError as exc:  # no replica answered within the client's window: it tries again
                self.errors.append(str(exc))
                continue
            if result is None:
                continue
            want = sent.pop(result.frame_id, None)
            self.unanswered.pop(result.frame_id, None)
            if want is None or not np.array_equal(result.image, want):
                self.wrong.append(f"client {self.index}: frame {result.frame_id} is not its own or not exact")
            self.results_at.append(time.monotonic())
        client.close()

    def longest_gap(self, start: float, end: float) -> float:
        """The longest time without a result between `start` and `end` (from `start` to the first result too)."""
        times = [start, *[t for t in self.results_at if start < t <= end], end]
        return max(b - a for a, b in itertools.pairwise(times))

    def lost_between(self, start: float, end: float) -> int:
        """Frames sent in [start, end) whose result never came (in flight on a killed replica, answered after the
        client had moved, or a pending frame replaced by a newer one)."""
        return sum(1 for t in self.unanswered.values() if start <= t < end)


def haproxy_down_servers(log: Path) -> set[str]:
    """Servers haproxy's log says went DOWN (names), for the report."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return set(re.findall(r"Server replicas/(r\d) is DOWN", text))
