"""Load driver: N BridgeClients (threads) stream frames to a real `sdbridge serve` process for a while.

Used by tests/reliability/test_load.py (CI) and scripts/soak.sh (long runs, with faults):

    .venv/bin/python tests/reliability/load.py --model identity --clients 8 --seconds 60 --size 256

Each client keeps its credits busy, and checks every result: it comes from the client's own session,
echoes a frame id the client sent and not yet got back, has the frame's size, and (identity model)
holds exactly the pixels that frame carried (every frame is unique: client index and frame id are
written into its pixels). The server's resident memory (/proc/PID/status VmRSS) is sampled every
second; growth is measured from the end of the warm-up to the largest later sample.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ClientReport:
    """What one client saw."""

    index: int
    results: int = 0
    warmup_results: int = 0
    sent: int = 0
    errors: int = 0
    reconnects: int = 0
    wrong: list[str] = field(default_factory=list)  # results that were not this client's own frames
    timeouts: int = 0
    reconnect_reasons: list[str] = field(default_factory=list)  # why each reconnect happened

    def fps(self, seconds: float) -> float:
        """Results per second over the run."""
        return self.results / seconds if seconds > 0 else 0.0


@dataclass
class LoadReport:
    """A whole run."""

    model: str
    clients: int
    seconds: float
    size: int
    per_client_fps: list[float]
    mean_fps: float
    slowest_fps: float
    total_results: int
    wrong_frames: list[str]
    rss_warm_kb: int
    rss_max_after_warm_kb: int
    rss_end_kb: int
    rss_growth: float  # (max after warm-up - at warm-up) / at warm-up
    warmup_seconds: float
    errors: int
    reconnects: int
    timeouts: int
    reconnect_reasons: list[str]
    rss_samples_kb: list[int]

    def summary(self) -> dict[str, object]:
        """The report without the long sample list."""
        data = asdict(self)
        data.pop("rss_samples_kb")
        data["wrong_frames"] = data["wrong_frames"][:5]
        return data


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (bound, read, released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kb(pid: int) -> int:
    """Resident set size of a process in KiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


class ServerProcess:
    """`python -m sdbridge serve` in a child process; `stop()` sends SIGTERM (then SIGKILL after 10 s)."""

    def __init__(self, model: str, port: int, extra: Sequence[str] = (), python: str = sys.executable,
                 max_sessions: int = 8, env: dict[str, str] | None = None) -> None:
        self.endpoint = f"tcp://127.0.0.1:{port}"
        env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
        self.proc = subprocess.Popen(
            [python, "-m", "sdbridge", "serve", "--model", model, "--bind", self.endpoint,
             "--max-sessions", str(max_sessions), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
        self.log: list[str] = []
        deadline = time.monotonic() + 180
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if line:
                self.log.append(line)
            if "sdbridge serving" in line:
                break
            if (not line and self.proc.poll() is not None) or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("server did not start:\n" + "".join(self.log[-30:]))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(line)
            if len(self.log) > 2000:
                del self.log[:1000]

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.proc.pid

    def stop(self, kill: bool = False) -> int:
        """Terminate (or kill) and wait; returns the exit code."""
        if self.proc.poll() is None:
            (self.proc.kill if kill else self.proc.terminate)()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return int(self.proc.returncode)


def _frame(index: int, frame_id: int, size: int, base: np.ndarray) -> np.ndarray:
    image = base.copy()
    image[0, :4] = np.frombuffer(np.array([index, frame_id], dtype="<u8").tobytes(), dtype=np.uint8).reshape(4, 4)
    return image


def client_loop(endpoint: str, index: int, size: int, stop: threading.Event, check_pixels: bool,
                report: ClientReport, name_prefix: str = "load") -> None:
    """Stream until `stop` is set, checking every result (see the module docstring)."""
    from sdbridge.transport.client import BridgeClient

    rng = np.random.default_rng(index)
    base = rng.integers(0, 256, (size, size, 4), dtype=np.uint8)
    # frame id -> (the session it was sent in (submit may reconnect first), its pixels when they are checked)
    outstanding: dict[int, tuple[int, np.ndarray | None]] = {}
    got: set[int] = set()  # ids of results received (to tell a duplicate from a frame never sent)
    forgotten: set[int] = set()  # ids dropped from `outstanding` as results the server dropped
    recent: deque[str] = deque(maxlen=16)  # what this client last did, printed with a wrong result
    with BridgeClient(endpoint, name=f"{name_prefix}-{index}", lost_after=5.0) as client:
        client.connect(timeout=30)
        session = client.session_id
        while not stop.is_set():
            while client.credits > 0 and not stop.is_set():
                frame_id = client.next_frame_id
                image = _frame(index, frame_id, size, base)
                sent_id = client.submit(image)
                if sent_id is None:
                    break
                report.sent += 1
                outstanding[sent_id] = (client.session_id, image if check_pixels else None)
                recent.append(f"sent {sent_id}")
            result = client.receive(timeout=30)
            if client.session_id != session:  # reconnected: the old session's frames in flight never come
                # back, except results that had arrived before the reconnect (the client still hands those
                # out, marked with the old session): they stay in `outstanding` until the pruning below.
                session = client.session_id
                report.reconnects = client.counters.reconnects
                report.reconnect_reasons.append(f"client {index}: {client.counters.lost_reason}")
                recent.append(f"reconnected as session {session} ({client.counters.lost_reason})")
            if result is None:
                report.timeouts += 1
                continue
            entry = outstanding.pop(result.frame_id, None)
            sent_in, want = entry if entry is not None else (None, None)
            if result.session_id != (client.session_id if sent_in is None else sent_in):
                report.wrong.append(f"client {index}: result of session {result.session_id} for frame "
                                    f"{result.frame_id}, sent in session {sent_in} (now {client.session_id})")
            if entry is None:
                why = ("a second result for it" if result.frame_id in got else
                       "its frame was forgotten as dropped" if result.frame_id in forgotten else
                       "never sent" if result.frame_id >= client.next_frame_id else "sent but not recorded")
                report.wrong.append(f"client {index}: result for frame {result.frame_id}, which it did not "
                                    f"send or already got ({why}; in flight: {sorted(outstanding)[-4:]}, "
                                    f"credits {client.credits}, credits returned {client.counters.credits_returned}; "
                                    f"last: {', '.join(recent)})")
            elif result.image.shape != (size, size, 4):
                report.wrong.append(f"client {index}: frame {result.frame_id} came back {result.image.shape}")
            elif want is not None and not np.array_equal(result.image, want):
                report.wrong.append(f"client {index}: frame {result.frame_id} holds other pixels")
            got.add(result.frame_id)
            # the server's timings tell one result sent twice (same figures) from a frame processed twice
            waited, inferred = (round(result.timings.get(k, 0.0) * 1e6) for k in ("queue_wait", "inference"))
            recent.append(f"got {result.frame_id} (credits {client.credits}, returned "
                          f"{client.counters.credits_returned}, waited {waited} us, inference {inferred} us)")
            if result.is_warmup:
                report.warmup_results += 1
            report.results += 1
            if len(outstanding) > 64:  # results the server dropped (latest wins) never come: forget them
                for old in sorted(outstanding)[:-8]:
                    del outstanding[old]
                    forgotten.add(old)
        report.errors = client.counters.errors
        report.reconnects = client.counters.reconnects


def run_load(endpoint: str, server_pid: int, model: str, clients: int = 8, seconds: float = 60.0, size: int = 256,
             warmup: float | None = None) -> LoadReport:
    """Run `clients` client threads for `seconds` against a running server and measure it."""
    check_pixels = model == "identity"
    stop = threading.Event()
    reports = [ClientReport(i) for i in range(clients)]
    errors: list[BaseException] = []

    def guarded(i: int) -> None:
        try:
            client_loop(endpoint, i, size, stop, check_pixels, reports[i])
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,), daemon=True) for i in range(clients)]
    warm = warmup if warmup is not None else max(5.0, 0.2 * seconds)
    samples: list[int] = []
    for t in threads:
        t.start()
    start = time.monotonic()
    counted_from: list[int] = []
    warm_rss = 0
    warm_index = 0
    warm_at = 0.0
    while time.monotonic() - start < seconds and not errors:
        time.sleep(1.0)
        samples.append(rss_kb(server_pid))
        # warm-up: at least `warm` seconds and until every session has had results (its pipeline is built)
        if not counted_from and time.monotonic() - start >= warm and all(r.results >= 1 for r in reports):
            warm_rss = samples[-1]
            warm_index = len(samples)
            warm_at = time.monotonic() - start
            counted_from = [r.results for r in reports]
    if not counted_from:
        stop.set()
        raise RuntimeError(f"warm-up never ended: results per client after {seconds} s: "
                           f"{[r.results for r in reports]} (a session starved, or the run is too short)")
    measured = time.monotonic() - start - warm_at
    ends = [r.results for r in reports]
    stop.set()
    for t in threads:
        t.join(30)
    if errors:
        raise RuntimeError(f"{len(errors)} client threads failed; first: {errors[0]!r}") from errors[0]
    if any(t.is_alive() for t in threads):
        raise RuntimeError("a client thread did not stop within 30 s")
    fps = [(e - s) / measured for e, s in zip(ends, counted_from, strict=True)]
    after = samples[warm_index:]
    rss_max = max(after) if after else warm_rss
    return LoadReport(
        model=model, clients=clients, seconds=seconds, size=size,
        per_client_fps=[round(f, 2) for f in fps], mean_fps=round(sum(fps) / len(fps), 2),
        slowest_fps=round(min(fps), 2), total_results=sum(r.results for r in reports),
        wrong_frames=[w for r in reports for w in r.wrong], rss_warm_kb=warm_rss, rss_max_after_warm_kb=rss_max,
        rss_end_kb=samples[-1], rss_growth=round((rss_max - warm_rss) / warm_rss, 4) if warm_rss else 0.0,
        errors=sum(r.errors for r in reports), reconnects=sum(r.reconnects for r in reports),
        timeouts=sum(r.timeouts for r in reports),
        reconnect_reasons=[w for r in reports for w in r.reconnect_reasons], rss_samples_kb=samples,
        warmup_seconds=round(warm_at, 1),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Start a server, run the load, print the report as JSON (exit 1 when an acceptance check fails)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="identity")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", default="", help="also write the JSON report here")
    parser.add_argument("--torch-threads", default="", help="OMP_NUM_THREADS of the server (default: torch's)")
    parser.add_argument("--config", default="", help="server TOML config (e.g. identity_inline = false)")
    args = parser.parse_args(argv)
    server = ServerProcess(args.model, free_port(), extra=("--config", args.config) if args.config else (),
                           env={"OMP_NUM_THREADS": args.torch_threads} if args.torch_threads else None)
    try:
        report = run_load(server.endpoint, server.pid, args.model, args.clients, args.seconds, args.size)
    finally:
        server.stop()
    text = json.dumps(report.summary(), indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(asdict(report), indent=2) + "\n")
    ok = not report.wrong_frames and report.slowest_fps >= 0.8 * report.mean_fps and report.rss_growth < 0.05
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
