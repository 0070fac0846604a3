"""Soak run (outside CI; scripts/soak.sh): a long load with faults injected all along, then server restarts.

Phase 1 (--minutes, default 10): 8 clients stream 256x256 frames to one `sdbridge serve` process (as in
tests/reliability/load.py, every result checked) while a fault thread cycles, one fault every
--fault-every seconds: a client killed mid-multipart (raw ZMTP, TCP reset), a burst of 500 fuzz inputs
over a real socket, a client that never reads (6 s flood), a GameEvent burst above the rate limit, and
a churn of 20 short sessions. Measured: results per client, wrong frames, server RSS over the run.
Phase 2 (--restarts, default 10): 3 clients stream while the server is restarted, alternately with
SIGTERM and SIGKILL; measured: each client's reconnect delay after the new server is ready.
Writes build/reliability/soak.json and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reliability.faults import NonReader, Streamer, abort, raw_zmtp_partial
from reliability.fuzz_harness import generate
from reliability.load import ServerProcess, free_port, run_load
from sdbridge.transport.client import BridgeClient

OUT = Path(__file__).resolve().parents[2] / "build" / "reliability"


def _fuzz_burst(endpoint: str, seed: int, count: int = 500) -> int:
    """Send `count` generated inputs on one DEALER; return how many replies came back within 2 s."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    replies = 0
    try:
        for _, parts in generate(seed, count):
            sock.send_multipart(parts)
            while sock.poll(0):
                sock.recv_multipart()
                replies += 1
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            if sock.poll(100):
                sock.recv_multipart()
                replies += 1
    finally:
        sock.close(0)
    return replies


def _event_burst(endpoint: str) -> int:
    """500 GameEvents as fast as possible; returns how many were refused (rate limit)."""
    with BridgeClient(endpoint, name="event-burst") as client:
        client.connect(timeout=10)
        for i in range(500):
            client.send_event("burst", {"i": i})
        client.receive(timeout=1.0)  # read the Errors
        return client.counters.errors


def _churn(endpoint: str) -> None:
    for i in range(20):
        with BridgeClient(endpoint, name=f"churn-{i}") as client:
            client.connect(timeout=10)


def fault_loop(endpoint: str, stop: threading.Event, every: float, done: Counter[str], notes: list[str]) -> None:
    """Inject one fault every `every` seconds until `stop`."""
    port = int(endpoint.rsplit(":", 1)[1])
    kinds = ["killed mid-multipart", "fuzz burst", "never reads", "event burst", "session churn"]
    n = 0
    while not stop.wait(every):
        kind = kinds[n % len(kinds)]
        try:
            if kind == "killed mid-multipart":
                abort(raw_zmtp_partial("127.0.0.1", port))
            elif kind == "fuzz burst":
                if _fuzz_burst(endpoint, seed=n) == 0:
                    notes.append(f"fuzz burst {n}: no reply at all")
            elif kind == "never reads":
                flooder = NonReader(endpoint)
                flooder.flood(6.0)
                flooder.close()
            elif kind == "event burst":
                _event_burst(endpoint)
            else:
                _churn(endpoint)
            done[kind] += 1
        except Exception as exc:  # recorded: a fault that could not be injected is a finding too
            notes.append(f"{kind} #{n}: {exc!r}")
        n += 1


def restarts(count: int) -> list[dict[str, object]]:
    """Restart the server `count` times under 3 streaming clients; the reconnect delays of each restart."""
    port = free_port()
    server = ServerProcess("identity", port)
    streamers = [Streamer(server.endpoint, i) for i in range(3)]
    out: list[dict[str, object]] = []
    try:
        for k in range(count):
            how = "SIGKILL" if k % 2 else "SIGTERM"
            seen = [len(s.reconnected_at) for s in streamers]
            time.sleep(2.0)
            server.stop(kill=how == "SIGKILL")
            server = ServerProcess("identity", port)
            ready = time.monotonic()
            deadline = ready + 30
            while time.monotonic() < deadline and not all(len(s.reconnected_at) > n
                                                          for s, n in zip(streamers, seen, strict=True)):
                time.sleep(0.02)
            delays = [round(s.reconnected_at[-1] - ready, 3) if len(s.reconnected_at) > n else None
                      for s, n in zip(streamers, seen, strict=True)]
            out.append({"signal": how, "delays_s": delays})
            print(f"restart {k + 1}/{count} ({how}): reconnect delays {delays} s", flush=True)
    finally:
        for s in streamers:
            s.stop.set()
            s.thread.join(10)
        server.stop()
    failures = [f for s in streamers for f in s.failures]
    if failures:
        out.append({"wrong_frames": failures[:5]})
    return out


def main() -> int:
    """Run both phases; exit 1 when a check fails (wrong frame, starvation, RSS growth, slow reconnect)."""
    parser = argparse.ArgumentParser(description="sdbridge soak run")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--model", default="identity")
    parser.add_argument("--fault-every", type=float, default=5.0)
    parser.add_argument("--restarts", type=int, default=10)
    parser.add_argument("--restarts-only", action="store_true", help="skip phase 1 (load with faults)")
    args = parser.parse_args()
    started = time.time()
    if args.restarts_only:
        phase2 = restarts(args.restarts)
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "soak-restarts.json").write_text(json.dumps(phase2, indent=2) + "\n")
        delays = [d for r in phase2 for d in r.get("delays_s", [])]  # type: ignore[union-attr]
        ok = all(d is not None and d <= 2.0 for d in delays) and not any("wrong_frames" in r for r in phase2)
        print(f"restarts {'PASSED' if ok else 'FAILED'}: max delay {max(d or 99 for d in delays)} s", flush=True)
        return 0 if ok else 1
    server = ServerProcess(args.model, free_port(), max_sessions=24)  # 8 streaming + room for the faults
    stop = threading.Event()
    done: Counter[str] = Counter()
    notes: list[str] = []
    faults = threading.Thread(target=fault_loop, args=(server.endpoint, stop, args.fault_every, done, notes),
                              daemon=True)
    faults.start()
    try:
        load = run_load(server.endpoint, server.pid, args.model, clients=8, seconds=args.minutes * 60, size=256,
                        warmup=60.0)
    finally:
        stop.set()
        faults.join(30)
        code = server.stop()
    log = "".join(server.log)
    phase1 = {"load": load.summary(), "faults_injected": dict(done), "fault_notes": notes,
              "server_exit_code": code, "sessions_freed_not_reading": log.count("not reading its results"),
              "rss_samples_kb_every_10s": load.rss_samples_kb[::10]}
    print(json.dumps(phase1, indent=2), flush=True)
    phase2 = restarts(args.restarts)
    result = {"started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started)),
              "minutes": args.minutes, "model": args.model, "phase1": phase1, "phase2_restarts": phase2,
              "wall_seconds": round(time.time() - started, 1)}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "soak.json").write_text(json.dumps(result, indent=2) + "\n")
    delays = [d for r in phase2 for d in r.get("delays_s", [])]  # type: ignore[union-attr]
    ok = (not load.wrong_frames and load.slowest_fps >= 0.5 * load.mean_fps and load.rss_growth < 0.05
          and code == 0 and all(d is not None and d <= 2.0 for d in delays)
          and not any("wrong_frames" in r for r in phase2))
    print(f"soak {'PASSED' if ok else 'FAILED'}: written to {OUT / 'soak.json'}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
