"""What a balancer adds to a round trip (`sdbridge bench transport --via HOST:PORT --direct HOST:PORT`): sequential
512x512 RGBA round trips through the identity model, straight to a replica and through the balancer in front of
it (deploy/haproxy), in alternating rounds of one run, so the machine's load hits both alike. Reports each path's
p50 and p99 and the added p50. Both endpoints must reach the same kind of replica; on a shared or loaded machine
the difference is within the noise of a few tens of microseconds, and the report says so."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from sdbridge.config_endpoint import MAX_PORT
from sdbridge.quantiles import percentile

WARMUP = 20


@dataclass
class PathTimes:
    """Round trips (seconds) of one path over every round."""

    name: str
    endpoint: str
    rtts: list[float] = field(default_factory=list)

    def p(self, q: float) -> float:
        """The q-quantile in milliseconds."""
        return percentile(self.rtts, q) * 1e3


def endpoint_of(address: str, flag: str) -> str:
    """`HOST:PORT` (or a tcp:// endpoint) as a ZeroMQ endpoint; ValueError naming the flag otherwise."""
    if address.startswith("tcp://"):
        return address
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) <= MAX_PORT:
        raise ValueError(f"{flag}={address!r} must be HOST:PORT with a port in [1, {MAX_PORT}], e.g. 127.0.0.1:5555")
    return f"tcp://{host}:{port}"


def round_trips(endpoint: str, image: np.ndarray, count: int) -> list[float]:
    """`count` sequential round trips of `image` on a new session (after WARMUP unmeasured ones)."""
    from sdbridge.transport.client import BridgeClient

    times = []
    with BridgeClient(endpoint, name="bench-balancer") as client:
        client.connect(timeout=30.0)
        for i in range(count + WARMUP):
            start = time.perf_counter()
            if client.submit(image) is None or client.receive(timeout=5.0) is None:
                raise RuntimeError(f"no result from {endpoint} within 5 s (round trip {i})")
            if i >= WARMUP:
                times.append(time.perf_counter() - start)
    return times


def measure(direct: str, via: str, size: int = 512, count: int = 300, rounds: int = 4) -> list[PathTimes]:
    """Alternating rounds of `count` round trips on each path: [direct, via]."""
    image = np.random.default_rng(0).integers(0, 256, (size, size, 4), dtype=np.uint8)
    paths = [PathTimes("direct", direct), PathTimes("via balancer", via)]
    for r in range(rounds):
        for path in paths if r % 2 == 0 else paths[::-1]:
            path.rtts.extend(round_trips(path.endpoint, image, count))
    return paths


def report(paths: list[PathTimes], size: int) -> list[str]:
    """The table and the added p50."""
    direct, via = paths
    lines = [f"{size}x{size} RGBA round trips, identity model, {len(direct.rtts)} per path in alternating rounds",
             f"{'path':<14}{'endpoint':<28}{'p50 ms':>9}{'p99 ms':>9}"]
    lines += [f"{p.name:<14}{p.endpoint:<28}{p.p(0.5):>9.3f}{p.p(0.99):>9.3f}" for p in paths]
    lines.append(f"added p50: {via.p(0.5) - direct.p(0.5):+.3f} ms (goal: at most +0.100 ms; on a loaded machine "
                 f"the rounds' own spread is of that order: rerun on an idle one before concluding)")
    return lines
