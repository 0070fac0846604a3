"""The wire cost of an engine plane measured in pairs (the last lines of `sdbridge bench transport`).

sdbridge.bench.transport measures the frame alone and the frame with a plane in separate runs of a few hundred
round trips each. On a shared machine a burst of load during one run and not the other moves their ratio by tens
of percent, either way. Here one session alternates them frame by frame (a pair: the frame alone and the frame
with the plane, in alternating order), so both see the same moments of the machine. Reported per plane size: the
p50 of each kind of frame, and the median of the paired differences (each pair's frame with the plane minus its
frame alone) over the frame alone's p50. The same for the raw pyzmq echo, whose third part is the floor: what the
plane's bytes alone cost through ZeroMQ and loopback TCP. It never asserts on time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sdbridge.bench.child import spawn_ready
from sdbridge.bench.transport import (
    RAW_HEADER,
    _bridge_server,
    _echo_server,
    _stop,
    depth_plane,
    make_frames,
    raw_dealer,
)
from sdbridge.quantiles import percentile

#: pairs left out at the start of each round (connection set-up, first-use caches)
WARMUP_PAIRS = 20
#: the goal: a plane adds at most this share to the round trip of the frame alone
GOAL = 0.15


@dataclass(frozen=True)
class Paired:
    """One path and plane size: p50 round trips of the frame alone and with the plane, and the median of the
    paired differences (ms)."""

    name: str
    alone_p50_ms: float
    plane_p50_ms: float
    median_diff_ms: float
    pairs: int

    @property
    def extra(self) -> float:
        """The median paired difference over the frame alone's p50."""
        return self.median_diff_ms / self.alone_p50_ms


#: one round trip: (frame index, with the plane?) -> seconds
RoundTrip = Callable[[int, bool], float]


def _pairs(round_trip: RoundTrip, pairs: int) -> tuple[list[float], list[float]]:
    """Round-trip times (s) of the frames alone and with the plane, pair by pair (warm-up pairs left out)."""
    alone, with_plane = [], []
    for i in range(pairs + WARMUP_PAIRS):
        plane_first = i % 2 == 1  # alternate the order inside a pair: neither kind always follows the other
        first = round_trip(2 * i, plane_first)
        second = round_trip(2 * i + 1, not plane_first)
        plain, plane = (second, first) if plane_first else (first, second)
        if i >= WARMUP_PAIRS:
            alone.append(plain)
            with_plane.append(plane)
    return alone, with_plane


def bridge_pairs(endpoint: str, frames: list[np.ndarray], plane: np.ndarray, pairs: int
                 ) -> tuple[list[float], list[float]]:
    """One BridgeClient session: ``pairs`` pairs of sequential round trips, without and with ``plane`` as depth."""
    from sdbridge.transport.client import BridgeClient

    with BridgeClient(endpoint, name="bench-transport-paired") as client:
        client.connect(timeout=30.0)

        def round_trip(i: int, with_plane: bool) -> float:
            start = time.perf_counter()
            if client.submit(frames[i % len(frames)], planes={"depth": plane} if with_plane else None) is None:
                raise RuntimeError("no credit in a sequential round trip; the server did not return credit")
            if client.receive(timeout=5.0) is None:
                raise RuntimeError("no result within 5 s")
            return time.perf_counter() - start

        return _pairs(round_trip, pairs)


def raw_pairs(endpoint: str, frames: list[np.ndarray], plane: np.ndarray, pairs: int
              ) -> tuple[list[float], list[float]]:
    """The raw echo: [header, frame] and [header, frame, plane] alternately (the echo answers [header, frame])."""
    with raw_dealer(endpoint) as sock:

        def round_trip(i: int, with_plane: bool) -> float:
            parts = [RAW_HEADER, frames[i % len(frames)], *([plane] if with_plane else [])]
            start = time.perf_counter()
            sock.send_multipart(parts, copy=False)
            sock.recv_multipart(copy=False)
            return time.perf_counter() - start

        return _pairs(round_trip, pairs)


def _paired(name: str, alone: list[float], with_plane: list[float]) -> Paired:
    diffs = [p - a for a, p in zip(alone, with_plane, strict=True)]
    return Paired(name, percentile(alone, 0.5) * 1e3, percentile(with_plane, 0.5) * 1e3,
                  percentile(diffs, 0.5) * 1e3, len(diffs))


def run_paired(size: int, pairs: int, rounds: int) -> list[Paired]:
    """Bridge and raw echo, each plane size (the frame's, half of it), ``rounds`` alternating rounds of ``pairs``
    pairs; the servers in child processes as in sdbridge.bench.transport."""
    frames = make_frames(size)
    planes = (depth_plane(size), depth_plane(max(8, size // 2)))
    echo = spawn_ready(_echo_server, size * size * 4 + (1 << 20))
    bridge = spawn_ready(_bridge_server, 2)
    got: dict[str, tuple[list[float], list[float]]] = {}
    try:
        for _ in range(rounds):
            for plane in planes:
                for path, measure, endpoint in (("bridge", bridge_pairs, bridge[2]), ("raw echo", raw_pairs, echo[2])):
                    alone, with_plane = measure(endpoint, frames, plane, pairs)
                    kept = got.setdefault(f"{path} + R16F depth {plane.shape[1]}x{plane.shape[0]}", ([], []))
                    kept[0].extend(alone)
                    kept[1].extend(with_plane)
    finally:
        for proc, conn, _ in (echo, bridge):
            _stop(proc, conn)
    return [_paired(name, *times) for name, times in got.items()]


def report_paired(results: list[Paired], rounds: int) -> list[str]:
    """The paired lines: each path and plane size, its p50s and the median paired difference against the goal."""
    verdict = {True: "met", False: "NOT met"}
    lines = [f"paired in one session (frames alone and with the plane alternating, {rounds} rounds pooled):"]
    for r in results:
        goal = f" (goal: at most +{GOAL:.0%}: {verdict[r.extra <= GOAL]})" if r.name.startswith("bridge") else \
            " (the bytes alone)"
        lines.append(f"  {r.name}: frame alone p50 {r.alone_p50_ms:.3f} ms, with the plane {r.plane_p50_ms:.3f} ms; "
                     f"median paired difference {r.median_diff_ms:+.3f} ms = {r.extra * 100:+.1f}% of the frame "
                     f"alone over {r.pairs} pairs{goal}")
    return lines
