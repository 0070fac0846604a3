"""Fair share of the worker: a well-behaved client's frames/s alone, and beside a client that sends the
costliest requests the limits allow.

The bystander streams frames with every credit in use and the server's default settings. The attacker, a
client in its own process, streams frames too, with the longest `t_index_list` (limits.max_t_index_list
steps), and after each result and at least every 20 ms sends a Prompt blend of limits.max_prompt_blend
distinct long texts (plus a distinct long negative prompt, with a transition so the blend of old and new
texts is recomputed every frame) and a new seed blend of limits.max_seed_blend seeds (beyond what the
server's update queue holds these are refused and counted). Every text is new, so none is ever in the
embedding cache: each one costs a tokenizer run over `text_chars` characters of short number-words (the
slowest kind of text for CLIP's tokenizer measured here: 10-20 ms for 4096 characters) plus a text-encoder
call.

Runs alternate between the bystander alone and with the attacker (ABBA order over `rounds`), so a machine
whose load drifts affects both arms alike. The ratio of the medians is the figure: the share of its solo
frames/s the bystander keeps. Used by `sdbridge bench fairness` and tests/runtime/test_fairness.py; it
never asserts on time itself.
"""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from sdbridge.bench.child import spawn_ready
from sdbridge.config import LimitsConfig
from sdbridge.transport.client import BridgeClient

log = logging.getLogger(__name__)


def costly_text(serial: int, chars: int) -> str:
    """A distinct prompt of `chars` characters of number-words (CLIP's tokenizer splits digits one by one)."""
    return (f"{serial} " + _NUMBER_WORDS)[:chars]


_NUMBER_WORDS = " ".join(str((i * 104729) % 1_000_000) for i in range(20_000))


def longest_t_index_list(steps: int, num_inference_steps: int = 50) -> tuple[int, ...]:
    """`steps` distinct, increasing timestep indices spread over [0, num_inference_steps)."""
    stride = max(1, num_inference_steps // steps)
    return tuple(min(num_inference_steps - 1, i * stride) for i in range(steps))


@dataclass
class AttackCounts:
    """What the attacker got done during one attacked run."""

    frames: int = 0
    prompts: int = 0
    refused: int = 0  # Errors the server answered (e.g. its update queue was full)


def _costly_requests(client: BridgeClient, limits: LimitsConfig, serial: int, chars: int) -> None:
    """A Prompt blend of new long texts (with a transition) and a new seed blend with the longest t_index_list."""
    blend = [(costly_text(serial * 100 + i, chars), 1.0 + i) for i in range(limits.max_prompt_blend)]
    client.set_prompt(blend, costly_text(serial * 100 + 99, chars), transition_frames=30)
    seeds = [(serial * 31 + i, 1.0 + i) for i in range(limits.max_seed_blend)]
    client.set_params(seed=seeds, t_index_list=longest_t_index_list(limits.max_t_index_list))


def _attack(conn: Connection, endpoint: str, limits: LimitsConfig, size: int, chars: int, serial: int) -> None:
    """The attacker's process: new costly requests every turn of its loop, frames as its credits allow, until
    told to stop; says "ready" after its first result and answers "stop" with its AttackCounts."""
    logging.getLogger("sdbridge.transport.client").setLevel(logging.ERROR)  # refusals are counted, not logged
    frame = np.full((size, size, 4), 200, np.uint8)
    counts = AttackCounts()
    with BridgeClient(endpoint, name="fairness-attacker", lost_after=120.0) as client:
        client.connect(timeout=30)
        client.set_params(t_index_list=longest_t_index_list(limits.max_t_index_list))
        while not conn.poll(0):
            serial += 1
            _costly_requests(client, limits, serial, chars)
            counts.prompts += 1
            if client.credits > 0:
                client.submit(frame)
            if client.receive(timeout=0.02) is not None:
                counts.frames += 1
                if counts.frames == 1:
                    conn.send("ready")
        counts.refused = client.counters.errors
    conn.recv()
    conn.send(counts)


class Attacker:
    """A client in its own process (no share of this process's GIL) sending the costliest valid requests."""

    def __init__(self, endpoint: str, limits: LimitsConfig, size: int, text_chars: int, serial: int) -> None:
        self._args = (endpoint, limits, size, text_chars, serial * 1_000_000)  # texts never repeat across runs
        self._proc: Any = None
        self._conn: Connection | None = None

    def start(self) -> None:
        """Start the process and wait until the attacker has its first result (the attack is under way)."""
        self._proc, self._conn, _ = spawn_ready(_attack, *self._args)

    def stop(self) -> AttackCounts:
        """Stop the process (its client says Bye) and return its counts."""
        assert self._conn is not None and self._proc is not None
        self._conn.send("stop")
        counts = self._conn.recv() if self._conn.poll(30) else AttackCounts()
        self._proc.join(15)
        if self._proc.is_alive():
            self._proc.kill()
        return counts


def stream_fps(client: BridgeClient, frame: np.ndarray, seconds: float) -> float:
    """Stream for `seconds` with every credit in use; returns results per second."""
    start = time.perf_counter()
    results = 0
    while True:
        while client.credits > 0:
            client.submit(frame)
        if client.receive(timeout=10.0) is not None:
            results += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return results / elapsed


@dataclass
class FairnessReport:
    """Bystander frames/s per run, alone and attacked, and what the attacker got done."""

    solo_fps: list[float] = field(default_factory=list)
    attacked_fps: list[float] = field(default_factory=list)
    attacks: list[AttackCounts] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """Median attacked frames/s over median solo frames/s."""
        return statistics.median(self.attacked_fps) / statistics.median(self.solo_fps)

    def summary(self) -> str:
        """One line with every figure."""
        frames = sum(a.frames for a in self.attacks)
        prompts = sum(a.prompts for a in self.attacks)
        refused = sum(a.refused for a in self.attacks)
        return (f"bystander solo {statistics.median(self.solo_fps):.1f} frames/s "
                f"(runs {[round(f, 1) for f in self.solo_fps]}), with attacker "
                f"{statistics.median(self.attacked_fps):.1f} frames/s (runs "
                f"{[round(f, 1) for f in self.attacked_fps]}): ratio {self.ratio:.2f}; attacker got "
                f"{frames} frames, sent {prompts} prompt blends, {refused} refused")


def measure(endpoint: str, limits: LimitsConfig, size: int = 64, seconds: float = 3.0, rounds: int = 1,
            text_chars: int = 4096, warmup_s: float = 1.0) -> FairnessReport:
    """Bystander frames/s alone and attacked, ABBA order over `rounds`; see the module docstring."""
    report = FairnessReport()
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (size, size, 4), dtype=np.uint8)
    with BridgeClient(endpoint, name="fairness-bystander", lost_after=120.0) as bystander:
        bystander.connect(timeout=30)
        stream_fps(bystander, frame, warmup_s)
        for run in range(rounds * 4):
            attacked = run % 4 in (1, 2)
            attacker = Attacker(endpoint, limits, size, text_chars, serial=run + 1) if attacked else None
            if attacker is not None:
                attacker.start()
            fps = stream_fps(bystander, frame, seconds)
            if attacker is not None:
                report.attacks.append(attacker.stop())
                report.attacked_fps.append(fps)
            else:
                report.solo_fps.append(fps)
            log.info("run %d (%s): bystander %.1f frames/s", run, "attacked" if attacked else "solo", fps)
    return report
