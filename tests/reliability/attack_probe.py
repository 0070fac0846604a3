"""Attack probe: what each class of hostile client traffic costs a real `sdbridge serve` and its other clients.

    .venv/bin/python tests/reliability/attack_probe.py --model tiny --size 64 --seconds 6 --out build/reliability

Starts the server in a child process, streams frames from one well-behaved client (the bystander) the whole
time, and runs each attack in turn from raw DEALER sockets (so nothing client-side filters them): per attack it
reports the server's resident memory growth (VmRSS before and the largest sample during or just after), the
bystander's frames/s during the attack against its solo frames/s measured just before, whether the server
answered with Errors, and whether it survived. RELIABILITY.md quotes the figures; tests/reliability/
test_attack_probe.py runs a short version in CI and checks the server survives each attack and the memory
attacks stay bounded.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reliability.fuzz_payloads import encode_or_none
from reliability.load import ServerProcess, free_port, rss_kb
from sdbridge.protocol import codec
from sdbridge.protocol import messages as m
from sdbridge.protocol.version import PROTOCOL_MAJOR, PROTOCOL_MINOR

_CAPS = m.Capability.CREDITS | m.Capability.HEARTBEAT | m.Capability.PROMPT_BLEND | m.Capability.SEED_BLEND
SHARED = "v" * 4096  # one 4 KiB value under every key: ~37 KB on the wire, ~4 MiB once unpacked


@dataclass
class AttackResult:
    """One attack's figures."""

    name: str
    what: str
    rss_before_mb: float
    rss_peak_mb: float
    rss_growth_mb: float
    bystander_solo_fps: float
    bystander_fps: float
    bystander_ratio: float
    errors_to_attacker: int
    server_alive: bool


class Attacker:
    """A raw DEALER with a session (Hello answered by Welcome); counts the Errors it is sent."""

    def __init__(self, ctx: zmq.Context, endpoint: str, name: str = "attacker") -> None:
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SNDHWM, 100000)
        self.sock.setsockopt(zmq.RCVHWM, 100000)
        self.sock.connect(endpoint)
        self.errors = 0
        self.send(m.Hello(protocol_major=PROTOCOL_MAJOR, protocol_minor=PROTOCOL_MINOR, client_name=name,
                          capabilities=_CAPS, pixel_formats=(m.PixelFormat.RGBA8,)))
        self.drain(timeout=10.0, until_welcome=True)

    def send(self, message: m.Message, payload: bytes | None = None, raw: bytes | None = None) -> None:
        """Send one message (or raw header bytes), with an optional pixel part."""
        header = raw if raw is not None else codec.encode(message)
        if payload is None:
            self.sock.send(header)
        else:
            self.sock.send_multipart([header, payload], copy=False)

    def drain(self, timeout: float = 0.0, until_welcome: bool = False) -> None:
        """Read what has arrived (counting Errors); with until_welcome, wait for the Welcome."""
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.0, deadline - time.monotonic())
            if not self.sock.poll(int(left * 1000)):
                if until_welcome:
                    raise RuntimeError("no Welcome from the server")
                return
            message = codec.decode(self.sock.recv_multipart()[0])
            if isinstance(message, m.ErrorMsg):
                self.errors += 1
            if until_welcome and isinstance(message, m.Welcome):
                return

    def close(self) -> None:
        """Close the socket (no Bye: a vanished client)."""
        self.sock.close(0)


class Bystander(threading.Thread):
    """A well-behaved BridgeClient streaming frames; records the time of every result."""

    def __init__(self, endpoint: str, size: int) -> None:
        super().__init__(daemon=True)
        self.endpoint, self.size = endpoint, size
        self.stamps: list[float] = []
        self.stop = threading.Event()
        self.failed = ""

    def run(self) -> None:
        from sdbridge.transport.client import BridgeClient

        image = np.random.default_rng(0).integers(0, 256, (self.size, self.size, 4), dtype=np.uint8)
        try:
            with BridgeClient(self.endpoint, name="bystander", lost_after=10.0) as client:
                client.connect(timeout=30)
                while not self.stop.is_set():
                    while client.credits > 0 and client.submit(image) is not None:
                        pass
                    if client.receive(timeout=2.0) is not None:
                        self.stamps.append(time.monotonic())
        except Exception as exc:  # reported, not raised: the probe goes on and says the bystander failed
            self.failed = f"{type(exc).__name__}: {exc}"

    def fps(self, start: float, end: float) -> float:
        """Results per second in [start, end)."""
        return sum(1 for t in self.stamps if start <= t < end) / max(end - start, 1e-9)


@functools.lru_cache(maxsize=256)
def _kv_message(kind: str, keys: int, seed: int) -> bytes:
    entries = {f"k{seed}_{i}": SHARED for i in range(keys)}
    message = m.State(entries=entries) if kind == "state" else m.GameEvent(name="bloat", payload=entries)
    header = encode_or_none(message)
    assert header is not None
    return header


def attack_state(a: Attacker, seconds: float) -> str:
    """100 State merges of 1024 new keys, all sharing one 4 KiB value."""
    for n in range(100):
        a.send(m.Bye(), raw=_kv_message("state", 1024, n))
        a.drain()
    return "100 State messages x 1024 keys sharing one 4 KiB value (37 KB each on the wire)"


def attack_events(a: Attacker, seconds: float) -> str:
    """100 GameEvents whose payload is 1024 keys sharing one 4 KiB value."""
    for n in range(100):
        a.send(m.Bye(), raw=_kv_message("event", 1024, n))
        a.drain()
    return "100 GameEvents x 1024 payload keys sharing one 4 KiB value"


def attack_no_read(a: Attacker, seconds: float, side: int = 1024) -> str:
    """Large frames sent as fast as possible by a client that never reads its results."""
    pixels = bytes(side * side * 4)
    for frame_id in range(1, 41):
        a.send(m.FrameHeader(frame_id=frame_id, width=side, height=side, stride=side * 4,
                             pixel_format=m.PixelFormat.RGBA8), payload=pixels)
    time.sleep(seconds)
    return f"40 frames of {side}x{side} RGBA ({side * side * 4 >> 20} MiB each), results never read"


def attack_prompt_blend(a: Attacker, seconds: float, entries: int = 8) -> str:
    """Prompt blends of `entries` distinct long texts, one after another, for the whole window."""
    end, n = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        blend = tuple(m.PromptWeight(text=f"{n}-{i} " + "castle " * 60, weight=1.0) for i in range(entries))
        a.send(m.Prompt(blend=blend))
        a.drain(timeout=0.05)
        n += 1
    return f"{n} Prompt blends of {entries} distinct ~420-character texts"


def attack_costly_params(a: Attacker, seconds: float, steps: int = 8, seeds: int = 8) -> str:
    """The longest t_index_list and the largest seed blend, re-sent for the whole window."""
    end, n = time.monotonic() + seconds, 0
    t_index = tuple(range(0, 49, max(1, 49 // steps)))[:steps]
    while time.monotonic() < end:
        blend = tuple(m.SeedWeight(seed=n * 100 + i, weight=1.0) for i in range(seeds))
        a.send(m.Params(t_index_list=t_index, seed_blend=blend))
        a.drain(timeout=0.1)
        n += 1
    return f"{n} Params with t_index_list of {len(t_index)} and seed blends of {seeds}"


ATTACKS: dict[str, Callable[[Attacker, float], str]] = {
    "state": attack_state, "events": attack_events, "no_read": attack_no_read,
    "prompt_blend": attack_prompt_blend, "costly_params": attack_costly_params,
}


def run(model: str, size: int, seconds: float, names: list[str], extra: list[str]) -> list[AttackResult]:
    """Per attack: a fresh server and bystander (no attack inherits another's damage); returns the figures."""
    results = []
    for name in names:
        server = ServerProcess(model, free_port(), extra=extra)
        ctx = zmq.Context()
        bystander = Bystander(server.endpoint, size)
        bystander.start()
        try:
            time.sleep(seconds)  # warm-up
            results.append(_one(name, server, ctx, bystander, seconds))
        finally:
            bystander.stop.set()
            bystander.join(10)
            ctx.destroy(0)
            server.stop()
        if bystander.failed:
            print(f"{name}: bystander failed: {bystander.failed}", file=sys.stderr)
    return results


def _prepare(name: str) -> None:
    """Encode the attack's messages before the window: the attacker shares this process (and its GIL) with the
    bystander, so encoding during the window would slow the bystander without the server being at fault."""
    if name in ("state", "events"):
        for n in range(100):
            _kv_message("state" if name == "state" else "event", 1024, n)


def _one(name: str, server: ServerProcess, ctx: zmq.Context, bystander: Bystander, seconds: float) -> AttackResult:
    _prepare(name)
    solo_start = time.monotonic()
    time.sleep(seconds)
    solo = bystander.fps(solo_start, time.monotonic())
    rss0 = rss_kb(server.pid)
    peak = rss0
    attacker = Attacker(ctx, server.endpoint, name)
    start = time.monotonic()
    done = threading.Event()
    what: list[str] = []

    def attack() -> None:
        what.append(ATTACKS[name](attacker, seconds))
        done.set()

    thread = threading.Thread(target=attack, daemon=True)
    thread.start()
    while not done.is_set() or time.monotonic() < start + seconds:
        alive = server.proc.poll() is None
        if not alive:
            break
        peak = max(peak, rss_kb(server.pid))
        time.sleep(0.1)
    thread.join(30)
    end = time.monotonic()
    attacker.drain(timeout=2.0)
    alive = server.proc.poll() is None
    if alive:
        peak = max(peak, rss_kb(server.pid))
    attacker.close()
    during = bystander.fps(start, end)
    return AttackResult(name=name, what=what[0] if what else "(did not finish)", rss_before_mb=rss0 / 1024,
                        rss_peak_mb=peak / 1024, rss_growth_mb=(peak - rss0) / 1024,
                        bystander_solo_fps=solo, bystander_fps=during,
                        bystander_ratio=during / solo if solo > 0 else 0.0,
                        errors_to_attacker=attacker.errors, server_alive=alive)


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--size", type=int, default=64, help="bystander frame side (pixels)")
    parser.add_argument("--seconds", type=float, default=6.0, help="window per measurement")
    parser.add_argument("--attacks", default=",".join(ATTACKS), help=f"comma list of {sorted(ATTACKS)}")
    parser.add_argument("--out", type=Path, default=None, help="folder for attacks.json")
    parser.add_argument("server_args", nargs="*", help="extra `sdbridge serve` arguments (after --)")
    args = parser.parse_args()
    names = [n for n in args.attacks.split(",") if n]
    unknown = sorted(set(names) - set(ATTACKS))
    if unknown:
        parser.error(f"--attacks: unknown {unknown}; choose from {sorted(ATTACKS)}")
    results = run(args.model, args.size, args.seconds, names, args.server_args)
    for r in results:
        print(f"{r.name:14s} rss +{r.rss_growth_mb:7.1f} MB  bystander {r.bystander_fps:6.1f} of "
              f"{r.bystander_solo_fps:6.1f} fps ({r.bystander_ratio:4.0%})  errors {r.errors_to_attacker:4d}  "
              f"alive {r.server_alive}  | {r.what}")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "attacks.json").write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")


if __name__ == "__main__":
    main()
