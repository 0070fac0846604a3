"""`sdbridge bench preview`: what an open preview page costs the game stream.

The server (with the preview enabled) runs in a child process, as in a deployment. A game client in this
process streams frames as fast as its credits allow for `--seconds` per run. Runs alternate between no
page connected and a page watching the stream's session (ABBA order over `--rounds`), so a machine
whose load drifts affects both arms alike. The page is either a websocket client in another child process
that receives every preview image (`--viewer ws`) or a real headless Chromium showing the page
(`--viewer chromium`). It prints the median frames/s of each arm and their ratio, and the server process's
CPU time per frame (from /proc, Linux), which other jobs on a shared machine disturb far less than
wall-clock throughput. It never asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sdbridge.bench.child import spawn_ready

NAME = "bench-preview"
HELP = "stream frames/s with and without a preview page watching (interleaved runs, server in a child process)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the benchmark."""
    parser.add_argument("--model", default="identity", help="identity | tiny | small (default identity: the "
                                                            "transport-bound worst case)")
    parser.add_argument("--size", type=int, default=512, help="frame width and height (default 512)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each run (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="ABBA rounds: each has 2 runs of each arm")
    parser.add_argument("--window", type=int, default=2, help="frames in flight (the server's credits)")
    parser.add_argument("--fps", type=float, default=10.0, help="preview images per second and view")
    parser.add_argument("--viewer", choices=["ws", "chromium"], default="ws",
                        help="the page: a websocket client process, or headless Chromium (needs selenium)")


# ------------------------------------------------------------------ child processes


def _server(conn: Connection, model: str, size: int, window: int, fps: float) -> None:
    from sdbridge.config import ServerConfig, with_overrides
    from sdbridge.server import BridgeServer

    cfg = with_overrides(ServerConfig(), model={"name": model, "width": size, "height": size},
                         session={"credits": window, "heartbeat_timeout_s": 60.0},
                         preview={"enabled": True, "port": 0, "fps": fps},
                         top={"bind": "tcp://127.0.0.1:*"})
    server = BridgeServer(cfg)
    endpoint = server.start()
    import threading

    # this thread runs the I/O loop; the worker thread exists unless the identity model is answered inline
    stream = [threading.get_native_id()] + [t.native_id for t in threading.enumerate() if t.name == "sdbridge-worker"]
    threads = {"preview": server.preview.thread_id if server.preview else 0, "stream": tuple(stream)}
    conn.send((endpoint, server.preview_url, threads))
    try:
        server.run(should_stop=lambda: conn.poll(0))
    finally:
        conn.send({"images_sent": server.preview.images_sent if server.preview else 0})
        server.close()


def _ws_viewer(conn: Connection, url: str) -> None:
    """A page as a websocket client: on ("open", id) it connects and watches that session, receiving every preview
    image until "close" (then it disconnects and reports the images it got); "stop" ends the process."""
    from websockets.sync.client import connect

    conn.send("ready")
    address = url.replace("http://", "ws://").split("?")[0] + "ws"
    while True:
        command = conn.recv()
        if command == "stop":
            return
        session_id = command[1]
        images = nbytes = 0
        with connect(address, max_size=None) as ws:
            ws.send(json.dumps({"op": "watch", "session": session_id}))
            conn.send("watching")
            while not conn.poll(0):
                try:
                    message = ws.recv(timeout=0.05)
                except TimeoutError:
                    continue
                if isinstance(message, bytes):
                    images += 1
                    nbytes += len(message)
        conn.recv()  # "close"
        conn.send({"images": images, "bytes": nbytes})


def _stop(proc: Any, conn: Connection) -> Any:
    conn.send("stop")
    reply = conn.recv() if conn.poll(15) else None
    proc.join(15)
    if proc.is_alive():
        proc.kill()
    return reply


class _Chromium:
    """A headless Chromium showing the page (the same flags as tests/preview)."""

    def __init__(self, url: str) -> None:
        import tempfile

        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self._profile = tempfile.mkdtemp(prefix="sdbridge-bench-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={self._profile}",
                     "--window-size=1400,1000"):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
        self.driver.get(url)

    def frames_shown(self) -> int:
        return int(self.driver.execute_script("return Number(document.getElementById('output-view')"
                                              ".dataset.frame || 0)"))

    def close(self) -> None:
        import shutil

        self.driver.quit()
        shutil.rmtree(self._profile, ignore_errors=True)


def _cpu_seconds(pid: int, tid: int = 0) -> float:
    """User + system CPU time of a process (or one of its threads) so far (Linux /proc); NaN elsewhere."""
    import os

    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    try:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bootstrap_median_interval(values: list[float], level: float = 0.9, resamples: int = 2000,
                              seed: int = 0) -> tuple[float, float]:
    """A percentile-bootstrap interval for the median of `values` (seeded, so a report repeats exactly)."""
    import random

    if len(values) < 2:
        return (values[0], values[0]) if values else (float("nan"), float("nan"))
    rng = random.Random(seed)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    tail = (1 - level) / 2
    return medians[int(tail * (resamples - 1))], medians[int((1 - tail) * (resamples - 1))]


# ------------------------------------------------------------------ the game client


class _CpuProbe:
    """CPU milliseconds of the server process, its I/O + worker threads and its preview thread over one run."""

    def __init__(self, pid: int, threads: dict[str, Any]) -> None:
        self.pid, self.threads = pid, threads
        self.process_ms = self.stream_ms = self.preview_ms = 0.0

    def _now(self) -> tuple[float, float, float]:
        stream = sum(_cpu_seconds(self.pid, tid) for tid in self.threads["stream"])
        return _cpu_seconds(self.pid), stream, _cpu_seconds(self.pid, self.threads["preview"])

    def __enter__(self) -> _CpuProbe:
        self._start = self._now()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._now()
        self.process_ms, self.stream_ms, self.preview_ms = ((e - s) * 1e3 for e, s in zip(end, self._start,
                                                                                             strict=True))


def _stream(client: Any, frames: list[Any], seconds: float) -> tuple[int, float]:
    """Stream for `seconds` with every credit in use; returns (results, elapsed seconds)."""
    start = time.perf_counter()
    results = 0
    while True:
        while client.credits > 0:
            client.submit(frames[results % len(frames)])
        if client.receive(timeout=5.0) is not None:
            results += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return results, elapsed


def run(args: argparse.Namespace) -> int:
    """Run the interleaved measurement and print the report."""
    from sdbridge.scene import SceneRenderer
    from sdbridge.transport.client import BridgeClient

    frames = [SceneRenderer(args.size, args.size, channels=4).render(i * 3) for i in range(16)]
    server, server_conn, (endpoint, url, threads) = spawn_ready(_server, args.model, args.size, args.window, args.fps,
                                                                start_timeout=300)
    arms: dict[str, list[float]] = {"no page": [], "page open": []}
    shown: list[float] = []
    ratios: list[float] = []
    cpu: dict[str, list[float]] = {"no page": [], "page open": []}  # server process ms per frame
    stream_cpu: dict[str, list[float]] = {"no page": [], "page open": []}  # I/O + worker threads, ms per frame
    preview_cpu: dict[str, list[float]] = {"no page": [], "page open": []}  # preview thread, ms per second

    viewer_cpu: list[float] = []  # the websocket page's process, ms of CPU per second (page-open runs)
    client_cpu: dict[str, list[float]] = {"no page": [], "page open": []}  # this (game client) process, ms per frame

    def measure(arm: str) -> None:
        viewer_before = _cpu_seconds(viewer.pid) if viewer is not None else float("nan")
        client_before = _cpu_seconds(os.getpid())
        with _CpuProbe(server.pid, threads) as probe:
            results, elapsed = _stream(client, frames, args.seconds)
        client_cpu[arm].append((_cpu_seconds(os.getpid()) - client_before) * 1e3 / max(1, results))
        if arm == "page open" and viewer is not None:
            viewer_cpu.append((_cpu_seconds(viewer.pid) - viewer_before) * 1e3 / elapsed)
        arms[arm].append(results / elapsed)
        cpu[arm].append(probe.process_ms / max(1, results))
        stream_cpu[arm].append(probe.stream_ms / max(1, results))
        preview_cpu[arm].append(probe.preview_ms / elapsed)
    viewer = viewer_conn = None
    if args.viewer == "ws":  # one process for all runs; each "page open" run connects a fresh websocket
        viewer, viewer_conn, _ = spawn_ready(_ws_viewer, url, start_timeout=300)
    try:
        with BridgeClient(endpoint, name="bench-preview") as client:
            welcome = client.connect(timeout=300)
            _stream(client, frames, min(3.0, args.seconds))  # warm-up (first pipeline build, caches)
            for r in range(args.rounds):
                order = ["no page", "page open"] if r % 2 == 0 else ["page open", "no page"]
                for arm in order + order[::-1]:
                    if arm == "no page":
                        measure(arm)
                    elif args.viewer == "ws":
                        viewer_conn.send(("open", welcome.session_id))
                        viewer_conn.recv()  # connected and watching
                        measure(arm)
                        viewer_conn.send("close")
                        shown.append(viewer_conn.recv().get("images", 0) / args.seconds)
                    else:
                        sep = "&" if "?" in url else "?"
                        browser = _Chromium(f"{url}{sep}session={welcome.session_id}")
                        try:
                            time.sleep(2.0)  # page loaded and watching
                            before = browser.frames_shown()
                            measure(arm)
                            shown.append(float(browser.frames_shown() > before))
                        finally:
                            browser.close()
                    print(f"  round {r + 1} {arm:>9}: {arms[arm][-1]:8.1f} frames/s", flush=True)
                # this round's 2 + 2 runs, paired: load that drifts during the round cancels out
                ratios.append(sum(arms["page open"][-2:]) / sum(arms["no page"][-2:]))
    finally:
        if viewer is not None and viewer_conn is not None:
            viewer_conn.send("stop")
            viewer.join(15)
        totals = _stop(server, server_conn) or {}
    base = statistics.median(arms["no page"])
    with_page = statistics.median(arms["page open"])
    viewer_note = (f"the websocket page received {statistics.median(shown):.1f} preview images/s"
                   if args.viewer == "ws" else
                   f"Chromium showed newer output frames in {sum(shown):.0f} of {len(shown)} runs")
    print(f"bench preview: model {args.model} {args.size}x{args.size}, {args.window} frames in flight, "
          f"{len(arms['no page'])} runs of {args.seconds:.0f} s per arm (ABBA), viewer {args.viewer}, "
          f"preview {args.fps:g} fps per view")
    print(f"  no page    median {base:8.1f} frames/s  (runs: {', '.join(f'{v:.1f}' for v in arms['no page'])})")
    print(f"  page open  median {with_page:8.1f} frames/s  (runs: {', '.join(f'{v:.1f}' for v in arms['page open'])})")
    paired = statistics.median(ratios)
    print(f"  page open / no page: median of per-round ratios {paired:.3f} (cost {100 * (1 - paired):+.1f}% of "
          f"throughput; rounds: {', '.join(f'{v:.3f}' for v in ratios)}), ratio of medians {with_page / base:.3f}")
    low, high = bootstrap_median_interval(ratios)
    print(f"  cost of an open page: {100 * (1 - paired):+.1f}% of throughput, 90% bootstrap interval "
          f"{100 * (1 - high):+.1f}% to {100 * (1 - low):+.1f}% (from {len(ratios)} rounds; more rounds narrow it)")
    cpu_base, cpu_page = statistics.median(cpu["no page"]), statistics.median(cpu["page open"])
    print(f"  server CPU per frame: no page {cpu_base:.3f} ms, page open {cpu_page:.3f} ms "
          f"({100 * (cpu_page / cpu_base - 1):+.1f}%)")
    base_stream, page_stream = statistics.median(stream_cpu["no page"]), statistics.median(stream_cpu["page open"])
    print(f"  I/O + worker threads CPU per frame: no page {base_stream:.3f} ms, page open {page_stream:.3f} ms "
          f"({100 * (page_stream / base_stream - 1):+.1f}%)")
    print(f"  preview thread CPU: no page {statistics.median(preview_cpu['no page']):.1f} ms/s, page open "
          f"{statistics.median(preview_cpu['page open']):.1f} ms/s (ms of CPU per second of streaming; 1000 = one "
          f"core)")
    base_client, page_client = statistics.median(client_cpu["no page"]), statistics.median(client_cpu["page open"])
    print(f"  game client process CPU per frame: no page {base_client:.3f} ms, page open {page_client:.3f} ms "
          f"({100 * (page_client / base_client - 1):+.1f}%)")
    if viewer_cpu:
        print(f"  websocket page process CPU: {statistics.median(viewer_cpu):.1f} ms/s while watching")
    print(f"  {viewer_note}; the server sent {totals.get('images_sent', 0)} preview images in all")
    return 0
