"""Python side of the C++ round-trip benchmark: the reference BridgeClient measured the same way.

Run by bench_roundtrip (C++) against the server it started; prints one JSON line:
{"client": "python", "fps": ..., "p50_ms": ..., "p99_ms": ..., "dropped": ..., "frames": ...,
 "cpu_us_per_frame": ...}
Method (identical in bench_roundtrip.cpp): `--latency-frames` sequential round trips after 20 warm-up
ones (p50/p99), then `--frames` frames with the server's credits in flight (frames/s = results / time;
frames the server replaced in its latest-wins slot come back as Credit and are counted as dropped).
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np

from sdbridge.transport.client import BridgeClient


def make_frames(size: int, count: int = 8) -> list[np.ndarray]:
    """Procedural RGBA frames (H, W, 4) uint8, the same pattern as the C++ side."""
    yy, xx = np.mgrid[0:size, 0:size]
    frames = []
    for t in range(count):
        rgba = np.empty((size, size, 4), dtype=np.uint8)  # (H, W, 4)
        rgba[..., 0] = (xx * 4 + t) % 256
        rgba[..., 1] = (yy * 4) % 256
        rgba[..., 2] = ((xx + yy) * 2) % 256
        rgba[..., 3] = 255
        frames.append(rgba)
    return frames


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def cpu_seconds() -> float:
    """User + system CPU time of this process (the server runs in another process)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    """Measure and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--latency-frames", type=int, default=300)
    args = parser.parse_args()
    frames = make_frames(args.size)
    with BridgeClient(args.endpoint, name="bench-python-reference") as client:
        client.connect(timeout=30.0)
        rtts = []
        for i in range(args.latency_frames + 20):
            start = time.perf_counter()
            if client.submit(frames[i % len(frames)]) is None:
                raise SystemExit("no credit for a sequential round trip")
            if client.receive(timeout=10.0) is None:
                raise SystemExit("no result within 10 s")
            if i >= 20:
                rtts.append(time.perf_counter() - start)
        dropped_before = client.counters.credits_returned
        sent = received = 0
        cpu_start = cpu_seconds()
        start = time.perf_counter()
        while client.credits > 0 and sent < args.frames:
            client.submit(frames[sent % len(frames)])
            sent += 1
        while received + client.counters.credits_returned - dropped_before < args.frames:
            if client.receive(timeout=10.0) is not None:
                received += 1
            elif client.counters.credits_returned == dropped_before:
                raise SystemExit(f"result {received} of {args.frames} did not arrive within 10 s")
            while client.credits > 0 and sent < args.frames:
                client.submit(frames[sent % len(frames)])
                sent += 1
        elapsed = time.perf_counter() - start
        cpu_us_per_frame = (cpu_seconds() - cpu_start) * 1e6 / received
        dropped = client.counters.credits_returned - dropped_before
    print(json.dumps({"client": "python", "fps": received / elapsed, "p50_ms": percentile(rtts, 0.5) * 1e3,
                      "p99_ms": percentile(rtts, 0.99) * 1e3, "dropped": dropped, "frames": received,
                      "cpu_us_per_frame": cpu_us_per_frame}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
