"""C# client vs Python reference client, same server, same run.

Starts ``sdbridge serve --model identity`` on a free port, then measures in turn, against that one server:
the Python reference client (sdbridge.transport.client.BridgeClient), the C# client with the managed
transport and the C# client with the native (libzmq) transport. Each does sequential round trips of
512x512 RGBA frames (p50/p99 latency) and a pipelined run with the server's credits (frames/s). Prints a
table with each client's frames/s as a ratio of the Python client's (goal: C# >= 0.8x).

Usage (after ``bash unity_package/Tests~/build.sh``):
    python unity_package/Tests~/Bench/run_bench.py [--n-lat 200] [--n-tp 500] [--size 512] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
BUILD = ROOT / "build" / "csharp"


def frames(size: int, count: int = 8) -> list[np.ndarray]:
    """Smooth procedural RGBA frames, the same formula as BenchMain.cs."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / size  # (H, W)
    out = []
    for f in range(count):
        rgba = np.empty((size, size, 4), dtype=np.uint8)  # (H, W, 4)
        rgba[..., 0] = (127 + 127 * np.sin(6 * xx + f * 0.7)).astype(np.uint8)
        rgba[..., 1] = (127 + 127 * np.sin(5 * yy - f * 0.7)).astype(np.uint8)
        rgba[..., 2] = (127 + 127 * np.sin(4 * (xx + yy) + 1.4 * f)).astype(np.uint8)
        rgba[..., 3] = 255
        out.append(rgba)
    return out


def bench_python(endpoint: str, size: int, n_lat: int, n_tp: int) -> dict[str, object]:
    """The reference client, measured the way BenchMain.cs measures the C# client."""
    from sdbridge.transport.client import BridgeClient

    imgs = frames(size)
    with BridgeClient(endpoint, name="python-bench") as client:
        client.connect(timeout=30.0)
        rtts = []
        for i in range(n_lat + 20):
            start = time.perf_counter()
            fid = client.submit(imgs[i % len(imgs)])
            while True:
                result = client.receive(timeout=5.0)
                if result is None:
                    raise RuntimeError(f"no result within 5 s (frame {fid})")
                if result.frame_id == fid:
                    break
            if i >= 20:
                rtts.append((time.perf_counter() - start) * 1e3)
        credits_before = client.counters.credits_returned
        results = sent = 0
        start = time.perf_counter()
        while results + client.counters.credits_returned - credits_before < n_tp:
            while not client.pending and sent < n_tp:
                client.submit(imgs[sent % len(imgs)])
                sent += 1
            if client.receive(timeout=5.0) is not None:
                results += 1
            elif client.counters.credits_returned == credits_before:
                raise RuntimeError(f"no progress after {results} of {n_tp} results")
        elapsed = time.perf_counter() - start
        dropped = client.counters.credits_returned - credits_before
    rtts.sort()
    return {"client": "python", "fps": results / elapsed, "p50_ms": rtts[len(rtts) // 2],
            "p99_ms": rtts[min(len(rtts) - 1, round(0.99 * (len(rtts) - 1)))], "results": results,
            "dropped": dropped}


def bench_csharp(endpoint: str, transport: str, size: int, n_lat: int, n_tp: int) -> dict[str, object]:
    exe = BUILD / "StreamDiffusion.Bridge.Bench.exe"
    env = dict(os.environ, MONO_PATH=str(BUILD))
    out = subprocess.run(["mono", "--optimize=all", str(exe), endpoint, transport, str(n_lat), str(n_tp), str(size)],
                         check=True, capture_output=True, text=True, timeout=600, env=env, cwd=BUILD)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-lat", type=int, default=200)
    parser.add_argument("--n-tp", type=int, default=500)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=2, help="alternate the clients this many times")
    args = parser.parse_args()
    if not (BUILD / "StreamDiffusion.Bridge.Bench.exe").exists():
        print("build first: bash unity_package/Tests~/build.sh", file=sys.stderr)
        return 2

    server = subprocess.Popen([sys.executable, "-m", "sdbridge.cli", "serve", "--model", "identity",
                               "--bind", "tcp://127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if "serving" not in line:
            raise RuntimeError(f"server did not start: {line!r}")
        endpoint = line.strip().split(" on ")[-1]
        print(f"server: identity model on {endpoint}; {args.size}x{args.size} RGBA, "
              f"{args.n_lat} sequential round trips + {args.n_tp} pipelined frames per client, {args.rounds} rounds")
        rows: list[dict[str, object]] = []
        for _ in range(args.rounds):
            rows.append(bench_python(endpoint, args.size, args.n_lat, args.n_tp))
            rows.append(bench_csharp(endpoint, "managed", args.size, args.n_lat, args.n_tp))
            rows.append(bench_csharp(endpoint, "native", args.size, args.n_lat, args.n_tp))
    finally:
        server.terminate()
        server.wait(timeout=30)

    best: dict[str, dict[str, object]] = {}
    for row in rows:
        name = str(row["client"])
        if name not in best or float(row["fps"]) > float(best[name]["fps"]):  # type: ignore[arg-type]
            best[name] = row
    base = float(best["python"]["fps"])  # type: ignore[arg-type]
    print(f"{'client':<16} {'frames/s':>9} {'vs python':>10} {'p50 ms':>8} {'p99 ms':>8} {'dropped':>8}")
    for row in rows:
        print(f"{row['client']!s:<16} {float(row['fps']):>9.1f} {float(row['fps']) / base:>9.2f}x "  # type: ignore[arg-type]
              f"{float(row['p50_ms']):>8.2f} {float(row['p99_ms']):>8.2f} {row['dropped']!s:>8}")  # type: ignore[arg-type]
    for name in ("csharp-managed", "csharp-native"):
        ratio = float(best[name]["fps"]) / base  # type: ignore[arg-type]
        print(f"best {name}: {ratio:.2f}x the Python client's frames/s (goal >= 0.80): "
              f"{'met' if ratio >= 0.8 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
