"""What an open preview page costs the game stream (`sdbridge bench preview`).

The server (with the preview enabled) runs in a child process, as in a deployment. A game client in this
process streams frames as fast as its credits allow for `seconds` per run. Runs alternate between no
page connected and a page watching the stream's session (ABBA order over `rounds`), so a machine
whose load drifts affects both arms alike. The page is either a websocket client in another child process
that receives every preview image (viewer "ws") or a real headless Chromium showing the page
(viewer "chromium"). The report gives the median frames/s of each arm and their ratio, and the server
process's CPU time per frame (from /proc, Linux), which other jobs on a shared machine disturb far less than
wall-clock throughput. It never asserts on time.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sdbridge.bench.child import spawn_ready

ARMS = ("no page", "page open")


@dataclass(frozen=True)
class PreviewOptions:
    """What to measure (the flags of `sdbridge bench preview`)."""

    model: str = "identity"
    size: int = 512
    seconds: float = 5.0
    rounds: int = 3
    window: int = 2
    fps: float = 10.0
    viewer: str = "ws"  # "ws" or "chromium"


def _per_arm() -> dict[str, list[float]]:
    return {arm: [] for arm in ARMS}


@dataclass
class PreviewFigures:
    """Every run's figures, per arm."""

    fps: dict[str, list[float]] = field(default_factory=_per_arm)  # frames/s
    server_cpu: dict[str, list[float]] = field(default_factory=_per_arm)  # server process ms per frame
    stream_cpu: dict[str, list[float]] = field(default_factory=_per_arm)  # I/O + worker threads, ms per frame
    preview_cpu: dict[str, list[float]] = field(default_factory=_per_arm)  # preview thread, ms per second
    client_cpu: dict[str, list[float]] = field(default_factory=_per_arm)  # this (game client) process, ms/frame
    viewer_cpu: list[float] = field(default_factory=list)  # the websocket page's process, ms per second
    shown: list[float] = field(default_factory=list)  # ws: preview images/s; chromium: 1.0 if the page moved
    ratios: list[float] = field(default_factory=list)  # per round: page open / no page (paired runs)
    images_sent: int = 0  # preview images the server sent in all


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
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    try:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bootstrap_median_interval(values: list[float], level: float = 0.9, resamples: int = 2000,
                              seed: int = 0) -> tuple[float, float]:
    """A percentile-bootstrap interval for the median of `values` (seeded, so a report repeats exactly)."""
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


class _Bench:
    """One interleaved measurement: the server child, the optional websocket viewer child, this game client."""

    def __init__(self, options: PreviewOptions) -> None:
        from sdbridge.scene import SceneRenderer

        self.options = options
        self.figures = PreviewFigures()
        self.frames = [SceneRenderer(options.size, options.size, channels=4).render(i * 3) for i in range(16)]
        self.viewer: Any = None
        self.viewer_conn: Connection | None = None
        self.client: Any = None

    def run(self) -> PreviewFigures:
        """Start the children, run every round, stop the children; returns the figures."""
        from sdbridge.transport.client import BridgeClient

        o = self.options
        server, server_conn, (endpoint, self.url, self.threads) = spawn_ready(
            _server, o.model, o.size, o.window, o.fps, start_timeout=300)
        self.server_pid = server.pid
        if o.viewer == "ws":  # one process for all runs; each "page open" run connects a fresh websocket
            self.viewer, self.viewer_conn, _ = spawn_ready(_ws_viewer, self.url, start_timeout=300)
        try:
            with BridgeClient(endpoint, name="bench-preview") as self.client:
                session_id = self.client.connect(timeout=300).session_id
                _stream(self.client, self.frames, min(3.0, o.seconds))  # warm-up (first pipeline build, caches)
                for r in range(o.rounds):
                    self._round(r, session_id)
        finally:
            if self.viewer is not None and self.viewer_conn is not None:
                self.viewer_conn.send("stop")
                self.viewer.join(15)
            totals = _stop(server, server_conn) or {}
        self.figures.images_sent = int(totals.get("images_sent", 0))
        return self.figures

    def _round(self, r: int, session_id: int) -> None:
        order = list(ARMS) if r % 2 == 0 else list(ARMS[::-1])
        for arm in order + order[::-1]:
            if arm == "no page":
                self._measure(arm)
            elif self.options.viewer == "ws":
                self._with_ws_page(session_id)
            else:
                self._with_chromium_page(session_id)
            print(f"  round {r + 1} {arm:>9}: {self.figures.fps[arm][-1]:8.1f} frames/s", flush=True)
        # this round's 2 + 2 runs, paired: load that drifts during the round cancels out
        fps = self.figures.fps
        self.figures.ratios.append(sum(fps["page open"][-2:]) / sum(fps["no page"][-2:]))

    def _with_ws_page(self, session_id: int) -> None:
        assert self.viewer_conn is not None
        self.viewer_conn.send(("open", session_id))
        self.viewer_conn.recv()  # connected and watching
        self._measure("page open")
        self.viewer_conn.send("close")
        self.figures.shown.append(self.viewer_conn.recv().get("images", 0) / self.options.seconds)

    def _with_chromium_page(self, session_id: int) -> None:
        sep = "&" if "?" in self.url else "?"
        browser = _Chromium(f"{self.url}{sep}session={session_id}")
        try:
            deadline = time.monotonic() + 30.0  # the page loaded and shows frames (or 30 s passed)
            while browser.frames_shown() == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            before = browser.frames_shown()
            self._measure("page open")
            self.figures.shown.append(float(browser.frames_shown() > before))
        finally:
            browser.close()

    def _measure(self, arm: str) -> None:
        f = self.figures
        viewer_before = _cpu_seconds(self.viewer.pid) if self.viewer is not None else float("nan")
        client_before = _cpu_seconds(os.getpid())
        with _CpuProbe(self.server_pid, self.threads) as probe:
            results, elapsed = _stream(self.client, self.frames, self.options.seconds)
        f.client_cpu[arm].append((_cpu_seconds(os.getpid()) - client_before) * 1e3 / max(1, results))
        if arm == "page open" and self.viewer is not None:
            f.viewer_cpu.append((_cpu_seconds(self.viewer.pid) - viewer_before) * 1e3 / elapsed)
        f.fps[arm].append(results / elapsed)
        f.server_cpu[arm].append(probe.process_ms / max(1, results))
        f.stream_cpu[arm].append(probe.stream_ms / max(1, results))
        f.preview_cpu[arm].append(probe.preview_ms / elapsed)


def measure(options: PreviewOptions) -> PreviewFigures:
    """Run the interleaved measurement (prints one progress line per run) and return every run's figures."""
    return _Bench(options).run()


def _both(values: dict[str, list[float]]) -> tuple[float, float, float]:
    """Medians of the no-page and page-open arms and the page's relative change in percent."""
    base, page = statistics.median(values["no page"]), statistics.median(values["page open"])
    return base, page, 100 * (page / base - 1)


#: The preview page's goal: an open page costs the stream under this share of its throughput, in percent.
GOAL_PERCENT = 5.0


def _verdict(cost: float, low: float, high: float) -> str:
    """Met when the whole interval of the cost lies under the goal, NOT met when it lies over it, else open."""
    limit = GOAL_PERCENT / 100
    if high < limit:
        return "met (the whole interval lies under it)"
    if low >= limit:
        return "NOT met (the whole interval lies over it)"
    return f"not resolved ({100 * cost:+.1f}%, the interval spans the goal: more --rounds narrow it)"


def report(options: PreviewOptions, f: PreviewFigures) -> list[str]:
    """The printed report: medians per arm, the paired ratio with its bootstrap interval, CPU per frame."""
    o = options
    base, with_page, _ = _both(f.fps)
    paired = statistics.median(f.ratios)
    low, high = bootstrap_median_interval(f.ratios)
    server, stream, client = _both(f.server_cpu), _both(f.stream_cpu), _both(f.client_cpu)
    viewer_note = (f"the websocket page received {statistics.median(f.shown):.1f} preview images/s"
                   if o.viewer == "ws" else
                   f"Chromium showed newer output frames in {sum(f.shown):.0f} of {len(f.shown)} runs")
    lines = [
        f"bench preview: model {o.model} {o.size}x{o.size}, {o.window} frames in flight, "
        f"{len(f.fps['no page'])} runs of {o.seconds:g} s per arm (ABBA), viewer {o.viewer}, "
        f"preview {o.fps:g} fps per view",
        f"  no page    median {base:8.1f} frames/s  (runs: {', '.join(f'{v:.1f}' for v in f.fps['no page'])})",
        f"  page open  median {with_page:8.1f} frames/s  (runs: {', '.join(f'{v:.1f}' for v in f.fps['page open'])})",
        f"  page open / no page: median of per-round ratios {paired:.3f} (cost {100 * (1 - paired):+.1f}% of "
        f"throughput; rounds: {', '.join(f'{v:.3f}' for v in f.ratios)}), ratio of medians {with_page / base:.3f}",
        f"  cost of an open page: {100 * (1 - paired):+.1f}% of throughput, 90% bootstrap interval "
        f"{100 * (1 - high):+.1f}% to {100 * (1 - low):+.1f}% (from {len(f.ratios)} rounds; more rounds narrow it)",
        f"  goal (an open page costs under {GOAL_PERCENT:g}% of throughput): {_verdict(1 - paired, 1 - high, 1 - low)}",
        f"  server CPU per frame: no page {server[0]:.3f} ms, page open {server[1]:.3f} ms ({server[2]:+.1f}%)",
        f"  I/O + worker threads CPU per frame: no page {stream[0]:.3f} ms, page open {stream[1]:.3f} ms "
        f"({stream[2]:+.1f}%)",
        f"  preview thread CPU: no page {statistics.median(f.preview_cpu['no page']):.1f} ms/s, page open "
        f"{statistics.median(f.preview_cpu['page open']):.1f} ms/s (ms of CPU per second of streaming; 1000 = one "
        f"core)",
        f"  game client process CPU per frame: no page {client[0]:.3f} ms, page open {client[1]:.3f} ms "
        f"({client[2]:+.1f}%)",
    ]
    if f.viewer_cpu:
        lines.append(f"  websocket page process CPU: {statistics.median(f.viewer_cpu):.1f} ms/s while watching")
    lines.append(f"  {viewer_note}; the server sent {f.images_sent} preview images in all")
    return lines
