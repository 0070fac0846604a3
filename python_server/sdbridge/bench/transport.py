"""What the bridge adds on top of raw ZeroMQ, and what it saves over JPEG (`sdbridge bench transport`).

In one run, with the same 512x512 RGBA frames and each server in its own process (as a game and the
server would be), it measures:
  1. raw pyzmq DEALER -> ROUTER echo (the floor: no protocol, no session, no worker),
  2. the full path BridgeClient -> `sdbridge` server (identity model) -> BridgeClient,
  3. a websocket + JPEG q90 round trip (how the original StreamDiffusion demo moved frames): the client
     encodes, the server decodes and re-encodes, the client decodes,
  4. the full path of 2. with an R16F depth plane in each Frame, of the frame's size and of half its width and
     height (the wire cost of engine planes: one more ZeroMQ part, checked and described by the server; the
     identity model returns the colour; a ControlNet resizes its control image to the model's size anyway),
  5. the raw echo of 1. with the same plane bytes as a third part that the echo does not send back (nor does the
     bridge server): the floor of moving those bytes through ZeroMQ and loopback TCP, so that the plane rows'
     cost reads against what the bytes alone cost.
For each: round-trip p50/p99 with one frame in flight, and frames/s with `--window` frames in flight; for the
bridge and raw rows also the CPU time per frame of client and server (each process's own CPU clock, so it does
not count the other helpers' load the way wall time does). It prints the ratios against the goals and the load
average; it never asserts on time. Both server children keep freed frame-sized buffers in the heap, as `sdbridge
serve` does (sdbridge.runtime.host_heap): without that the bridge server faulted 10-50 pages per plane frame.

Reading the figures: client and server each need about 0.45 ms of CPU per 512x512 frame (mostly the kernel copying
1 MiB each way through loopback TCP). With a core each they overlap; sharing one core (a 2-core machine with other
work on the other) a frame costs their sum, and frames/s halve. Which happens in a short round is up to the
scheduler, so on a loaded machine the ratios swing between runs (RELIABILITY.md, section 2): compare on an idle one.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing as mp
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from sdbridge.bench.child import spawn_ready
from sdbridge.quantiles import percentile


@dataclass(frozen=True)
class Measurement:
    """Figures of one method."""

    name: str
    fps: float
    p50_ms: float
    p99_ms: float
    dropped: int = 0  # frames replaced in the latest-wins slot (not counted in fps)
    cpu_ms: float | None = None  # client + server CPU per frame (median round); None: not measured for this method
    cpu_split: tuple[float, float] | None = None  # (client, server) CPU per frame, each its median round


@dataclass(frozen=True)
class Sample:
    """One round of one method: sequential round trips (s), windowed frames/s, frames dropped."""

    rtts: list[float]
    fps: float
    dropped: int
    cpu_ms: float | None = None  # client + server CPU per frame over the round (None: not measured)
    cpu_split: tuple[float, float] | None = None  # (client, server) CPU per frame over the round


def _combine(name: str, samples: list[Sample]) -> Measurement:
    rtts = [r for s in samples for r in s.rtts]
    fps = percentile((s.fps for s in samples), 0.5)  # median round
    cpus = [s.cpu_ms for s in samples if s.cpu_ms is not None]
    splits = [s.cpu_split for s in samples if s.cpu_split is not None]
    split = (percentile((c for c, _ in splits), 0.5), percentile((v for _, v in splits), 0.5)) if splits else None
    return Measurement(name, fps, percentile(rtts, 0.5) * 1e3, percentile(rtts, 0.99) * 1e3,
                       sum(s.dropped for s in samples), percentile(cpus, 0.5) if cpus else None, split)


def make_frames(size: int, count: int = 8) -> list[np.ndarray]:
    """A few smooth procedural RGBA frames (JPEG behaves as on rendered content, not on noise)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    frames = []
    for i in range(count):
        phase = i * 0.7
        rgba = np.empty((size, size, 4), dtype=np.uint8)  # (H, W, 4)
        rgba[..., 0] = (127 + 127 * np.sin(6 * xx + phase)).astype(np.uint8)
        rgba[..., 1] = (127 + 127 * np.sin(5 * yy - phase)).astype(np.uint8)
        rgba[..., 2] = (127 + 127 * np.sin(4 * (xx + yy) + 2 * phase)).astype(np.uint8)
        rgba[..., 3] = 255
        frames.append(rgba)
    return frames


# ------------------------------------------------------------------ servers (child processes)


def _stop_on_message(conn: Connection, stop: Callable[[], None]) -> threading.Event:
    """Call `stop` when the parent sends anything (or goes away), from a thread of its own.

    The servers then never look at the pipe in their loops (`sdbridge serve` has no such pipe either); a
    pipe check per loop turn would add its cost to every frame of both the echo and the bridge server.
    Returns an Event set at the same moment.
    """
    stopped = threading.Event()

    def wait() -> None:
        with contextlib.suppress(EOFError, OSError):
            while conn.recv() == "cpu":  # the parent asks for this process's CPU time (_server_cpu)
                conn.send(time.process_time())
        stopped.set()
        stop()

    threading.Thread(target=wait, name="bench-stop", daemon=True).start()
    return stopped


def _echo_server(conn: Connection, max_bytes: int) -> None:
    """Answers each [header, pixels, planes...] with [header, pixels] (the bridge server returns no plane)."""
    import zmq

    from sdbridge.runtime.host_heap import keep_freed_buffers

    keep_freed_buffers()  # as the bridge server child below: the same heap for the floor and the bridge
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, max_bytes)
    sock.bind("tcp://127.0.0.1:*")
    conn.send(sock.getsockopt_string(zmq.LAST_ENDPOINT))
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    stop = _stop_on_message(conn, lambda: None)
    while not stop.is_set():
        if poller.poll(100):
            sock.send_multipart(sock.recv_multipart(copy=False)[:3], copy=False)  # identity, header, pixels
    sock.close(0)
    ctx.term()


def _bridge_server(conn: Connection, window: int) -> None:
    from sdbridge.config import ServerConfig, with_overrides
    from sdbridge.runtime.host_heap import keep_freed_buffers
    from sdbridge.server import BridgeServer

    cfg = with_overrides(ServerConfig(), model={"name": "identity"}, session={"credits": window},
                         top={"bind": "tcp://127.0.0.1:*"})
    server = BridgeServer(cfg)
    endpoint = server.start()
    keep_freed_buffers()  # as `sdbridge serve` does once its model has loaded
    conn.send(endpoint)
    _stop_on_message(conn, server.stop)
    try:
        server.run()
    finally:
        server.close()


def _ws_server(conn: Connection, quality: int) -> None:
    from PIL import Image
    from websockets.sync.server import serve

    def handler(ws: Any) -> None:
        for message in ws:
            image = Image.open(io.BytesIO(message)).convert("RGB")  # decode
            out = io.BytesIO()
            image.save(out, format="JPEG", quality=quality)  # the identity "model", re-encoded
            ws.send(out.getvalue())

    with serve(handler, "127.0.0.1", 0, max_size=None, compression=None) as server:
        port = server.socket.getsockname()[1]
        conn.send(f"ws://127.0.0.1:{port}")
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        conn.recv()  # any message = stop
        server.shutdown()


def _server_cpu(conn: Connection) -> float:
    """The CPU seconds a server child has used so far (its own clock: every thread of that process)."""
    conn.send("cpu")
    return float(conn.recv())


def _stop(proc: mp.Process, conn: Connection) -> None:
    conn.send("stop")
    proc.join(10)
    if proc.is_alive():
        proc.kill()


# ------------------------------------------------------------------ clients


def _with_cpu(server: Connection | None, run: Callable[[Callable[[], None]], tuple[Sample, int]]) -> Sample:
    """``run(mark)``'s Sample; with ``server`` (a server child's pipe) also this process's and the server's CPU time
    per frame from the moment ``run`` calls ``mark()`` (after its connect and warm-up, which would otherwise
    dominate a short run) to its end (``run`` returns the Sample and the frames submitted after the mark)."""
    marks: list[tuple[float, float]] = []

    def mark() -> None:
        if server is not None:
            marks.append((time.process_time(), _server_cpu(server)))

    sample, frames_sent = run(mark)
    if not marks or server is None:
        return sample
    client = (time.process_time() - marks[0][0]) / frames_sent * 1e3
    served = (_server_cpu(server) - marks[0][1]) / frames_sent * 1e3
    return Sample(sample.rtts, sample.fps, sample.dropped, client + served, (client, served))


def _bench_raw(endpoint: str, frames: list[np.ndarray], n_lat: int, n_tp: int, window: int,
               plane: np.ndarray | None = None, server: Connection | None = None) -> Sample:
    """One round of the raw echo, each message [header, frame] or, with ``plane``, [header, frame, plane] (the
    echo answers [header, frame]); with ``server`` the CPU time per frame as in ``_bench_bridge``."""
    return _with_cpu(server, lambda mark: _raw_round(endpoint, frames, n_lat, n_tp, window, plane, mark))


#: what the raw echo's messages carry as their header part: about the size of a Frame header
RAW_HEADER = b"\0" * 96


@contextlib.contextmanager
def raw_dealer(endpoint: str) -> Iterator[Any]:
    """A DEALER connected to the raw echo (linger 0, receives time out after 5 s), closed with its context."""
    import zmq

    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 5000)
    sock.connect(endpoint)
    try:
        yield sock
    finally:
        sock.close(0)
        ctx.term()


def _raw_round(endpoint: str, frames: list[np.ndarray], n_lat: int, n_tp: int, window: int,
               plane: np.ndarray | None, mark: Callable[[], None]) -> tuple[Sample, int]:
    """One round of the raw echo: 20 warm-up round trips, ``mark()``, the timed ones, then the windowed run;
    returns the Sample and the frames sent after the mark."""
    extra = [plane] if plane is not None else []
    with raw_dealer(endpoint) as sock:

        def send(i: int) -> None:
            sock.send_multipart([RAW_HEADER, frames[i % len(frames)], *extra], copy=False)

        for i in range(20):  # warm-up
            send(i)
            sock.recv_multipart(copy=False)
        mark()
        rtts = []
        for i in range(20, n_lat + 20):
            start = time.perf_counter()
            send(i)
            sock.recv_multipart(copy=False)
            rtts.append(time.perf_counter() - start)
        start = time.perf_counter()
        for i in range(window):
            send(i)
        for i in range(window, n_tp + window):
            sock.recv_multipart(copy=False)
            if i < n_tp:
                send(i)
        elapsed = time.perf_counter() - start
    return Sample(rtts, n_tp / elapsed, 0), n_lat + n_tp


def depth_plane(size: int) -> np.ndarray:
    """A smooth linear depth plane (size x size float16: R16F on the wire), 1 near .. 50 far."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    return (1.0 + 49.0 * (0.6 * yy + 0.4 * xx)).astype(np.float16)


def _bench_bridge(endpoint: str, frames: list[np.ndarray], n_lat: int, n_tp: int,
                  depth: np.ndarray | None = None, server: Connection | None = None) -> Sample:
    """One round of the bridge (with a depth plane in each Frame when ``depth`` is given); with ``server`` (the
    server child's pipe) the Sample also holds the client's and the server's CPU time per frame."""
    return _with_cpu(server, lambda mark: _bridge_round(endpoint, frames, n_lat, n_tp, depth, mark))


def _bridge_round(endpoint: str, frames: list[np.ndarray], n_lat: int, n_tp: int,
                  depth: np.ndarray | None, mark: Callable[[], None]) -> tuple[Sample, int]:
    """One round of the bridge: connect, 20 warm-up round trips, ``mark()``, the timed ones, then the windowed
    run; returns the Sample and the frames submitted after the mark."""
    from sdbridge.transport.client import BridgeClient

    planes = {"depth": depth} if depth is not None else None
    with BridgeClient(endpoint, name="bench-transport") as client:
        client.connect(timeout=30.0)

        def submit(image: np.ndarray) -> int | None:
            return client.submit(image, planes=planes)

        def round_trip(image: np.ndarray) -> None:
            if submit(image) is None:
                raise RuntimeError("no credit in a sequential round trip; the server did not return credit")
            if client.receive(timeout=5.0) is None:
                raise RuntimeError("no result within 5 s")

        for i in range(20):  # warm-up
            round_trip(frames[i % len(frames)])
        mark()
        rtts = []
        for i in range(20, n_lat + 20):
            start = time.perf_counter()
            round_trip(frames[i % len(frames)])
            rtts.append(time.perf_counter() - start)
        start = time.perf_counter()
        sent = received = 0
        dropped_before = client.counters.credits_returned
        while client.credits > 0 and sent < n_tp:
            submit(frames[sent % len(frames)])
            sent += 1
        # a frame replaced in the server's latest-wins slot comes back as a Credit, not a Result
        while received + client.counters.credits_returned - dropped_before < n_tp:
            if client.receive(timeout=5.0) is not None:
                received += 1
            elif client.counters.credits_returned == dropped_before:
                raise RuntimeError(f"result {received} of {n_tp} did not arrive within 5 s")
            while client.credits > 0 and sent < n_tp:
                submit(frames[sent % len(frames)])
                sent += 1
        elapsed = time.perf_counter() - start
        dropped = client.counters.credits_returned - dropped_before
    return Sample(rtts, received / elapsed, dropped), n_lat + sent


def _bench_ws(url: str, frames: list[np.ndarray], n_lat: int, n_tp: int, window: int,
              quality: int) -> Sample:
    from PIL import Image
    from websockets.sync.client import connect

    def encode(image: np.ndarray) -> bytes:
        out = io.BytesIO()
        Image.fromarray(image[..., :3]).save(out, format="JPEG", quality=quality)
        return out.getvalue()

    def decode(data: bytes) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))

    with connect(url, max_size=None, compression=None) as ws:
        rtts = []
        for i in range(n_lat + 5):
            start = time.perf_counter()
            ws.send(encode(frames[i % len(frames)]))
            decode(ws.recv(timeout=10))
            if i >= 5:
                rtts.append(time.perf_counter() - start)
        start = time.perf_counter()
        for i in range(window):
            ws.send(encode(frames[i % len(frames)]))
        for i in range(window, n_tp + window):
            decode(ws.recv(timeout=10))
            if i < n_tp:
                ws.send(encode(frames[i % len(frames)]))
        elapsed = time.perf_counter() - start
    return Sample(rtts, n_tp / elapsed, 0)


def run_benchmark(size: int, n_tp: int, n_lat: int, window: int, quality: int,
                  rounds: int = 3) -> list[Measurement]:
    """Run the three measurements (servers in child processes) and return them.

    The methods alternate within each of `rounds` rounds, so a burst of load from elsewhere on the
    machine hits all of them alike; frames/s is the median round, p50/p99 pool every round trip.
    """
    frames = make_frames(size)
    # JPEG is ~30x slower: fewer frames keep the run short without changing the per-frame figures
    ws_lat, ws_tp = max(20, n_lat // 5), max(20, n_tp // 5)
    servers = [
        spawn_ready(_echo_server, size * size * 4 + (1 << 20)),
        spawn_ready(_bridge_server, window),
        spawn_ready(_ws_server, quality),
    ]
    depths = (depth_plane(size), depth_plane(max(8, size // 2)))
    samples: list[list[Sample]] = [[] for _ in range(3 + 2 * len(depths))]
    try:
        (_, raw_conn, raw_ep), (_, bridge_conn, bridge_ep), (_, _, ws_url) = servers
        for _ in range(rounds):
            samples[0].append(_bench_raw(raw_ep, frames, n_lat, n_tp, window, server=raw_conn))
            samples[1].append(_bench_bridge(bridge_ep, frames, n_lat, n_tp, server=bridge_conn))
            samples[2].append(_bench_ws(ws_url, frames, ws_lat, ws_tp, window, quality))
            for k, depth in enumerate(depths):
                samples[3 + k].append(_bench_bridge(bridge_ep, frames, n_lat, n_tp, depth, server=bridge_conn))
                samples[3 + len(depths) + k].append(_bench_raw(raw_ep, frames, n_lat, n_tp, window, depth,
                                                               server=raw_conn))
    finally:
        for proc, conn, _ in servers:
            _stop(proc, conn)
    names = ("raw pyzmq DEALER/ROUTER echo", "BridgeClient -> server -> client", f"websocket + JPEG q{quality}",
             *(f"{BRIDGE_PLANE}{_plane_name(d)}" for d in depths),
             *(f"{RAW_PLANE}{_plane_name(d)} part" for d in depths))
    return [_combine(name, got) for name, got in zip(names, samples, strict=True)]


#: row name prefixes: the bridge with a plane, and the raw echo with the same bytes as a third part
BRIDGE_PLANE, RAW_PLANE = "bridge + ", "raw echo + "


def _plane_name(plane: np.ndarray) -> str:
    return f"R16F depth {plane.shape[1]}x{plane.shape[0]}"


def report(measurements: list[Measurement], size: int, window: int, rounds: int) -> list[str]:
    """The table and the ratios against the goals, as printed lines."""
    raw, full, ws, *with_planes = measurements
    planes = [p for p in with_planes if p.name.startswith(BRIDGE_PLANE)]
    floors = {p.name.removeprefix(RAW_PLANE).removesuffix(" part"): p for p in with_planes
              if p.name.startswith(RAW_PLANE)}
    lines = [f"transport benchmark: {size}x{size} RGBA, tcp loopback, {window} in flight for frames/s (median of "
             f"{rounds} rounds), 1 in flight for round trips (all rounds pooled)",
             f"{'method':<36}{'frames/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'dropped':>9}{'cpu ms/frame':>14}"]
    lines += [f"{m.name:<36}{m.fps:>10.1f}{m.p50_ms:>10.3f}{m.p99_ms:>10.3f}{m.dropped:>9}"
              f"{'' if m.cpu_ms is None else f'{m.cpu_ms:.3f}':>14}"
              for m in (raw, full, ws, *with_planes)]
    throughput = full.fps / raw.fps
    added = full.p50_ms - raw.p50_ms
    speedup = ws.p50_ms / full.p50_ms
    verdict = {True: "met", False: "NOT met"}
    lines += [f"full/raw throughput: {throughput * 100:.1f}% (goal >= 70%: {verdict[throughput >= 0.7]})",
              f"added p50 over raw echo: {added:.3f} ms (goal <= 0.3 ms: {verdict[added <= 0.3]})",
              f"websocket+JPEG p50 / full p50: {speedup:.1f}x (goal >= 5x: {verdict[speedup >= 5]})"]
    for plane in planes:  # the wire cost of an R16F depth plane
        extra = plane.p50_ms / full.p50_ms - 1
        name = plane.name.removeprefix(BRIDGE_PLANE)
        lines.append(f"{name} plane: p50 round trip {extra * 100:+.1f}% over the "
                     f"frame alone, frames/s "
                     f"{(plane.fps / full.fps - 1) * 100:+.1f}% (goal: at most +15%: {verdict[extra <= 0.15]})"
                     + _cpu_extra(plane, full))
        floor = floors.get(name)
        if floor is not None:  # what the plane's bytes alone cost through raw ZeroMQ
            lines.append(f"  its bytes alone (raw echo with a third part): p50 round trip "
                         f"{(floor.p50_ms / raw.p50_ms - 1) * 100:+.1f}% over the raw echo" + _cpu_extra(floor, raw))
    if hasattr(os, "getloadavg"):
        lines.append("load average (1, 5, 15 min) at the end: " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    return lines


def _cpu_extra(plane: Measurement, full: Measurement) -> str:
    """The plane's CPU per frame over the frame alone's, when both were measured."""
    if plane.cpu_ms is None or full.cpu_ms is None or full.cpu_ms <= 0:
        return ""
    split = ""
    if plane.cpu_split is not None and full.cpu_split is not None:
        (c0, s0), (c1, s1) = full.cpu_split, plane.cpu_split
        split = f" (client {c0:.3f} -> {c1:.3f} ms, server {s0:.3f} -> {s1:.3f} ms)"
    return (f"; CPU per frame (client + server) {plane.cpu_ms:.3f} ms, "
            f"{(plane.cpu_ms / full.cpu_ms - 1) * 100:+.1f}% over the frame alone" + split)
