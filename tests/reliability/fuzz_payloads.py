"""Fuzz inputs for what a client or a page can make the server keep: State / GameEvent payload shapes and
preview page commands (issue: nothing a client, a page or a file sends may stop, starve or bloat the server).

Two generators, both deterministic for a seed:
- `payload_message(rng)`: a State or GameEvent whose shape aims at memory kept per session (many keys, one long
  value repeated under many keys, long keys, replace_all toggling, hostile numbers);
- `preview_command(rng)`: a preview page command (the JSON object the page sends over its websocket) with values
  that pass a loose check but may not fit the wire (seed -1 or 2**64, guidance 1e39, t_index 2**40, NaN, ...).

Checks (used by tests/reliability/test_fuzz_payloads.py and the long atheris run):
- `retained_after_payloads`: the Python memory the server still holds after many such messages stays within
  the per-session budgets (limits.max_state_bytes, limits.max_event_payload_bytes) times a fixed overhead;
- `run_preview_commands`: every page command either fails the page's own check or reaches the server's control
  runner, which never raises (the I/O loop would die), completes every future, and only ever sends decodable
  messages to the engine client.
"""

from __future__ import annotations

import gc
import math
import random
import struct
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

from protocol.shared_strings import encode_shared  # tests/ is on sys.path (rootdir of the packages)

from sdbridge.errors import InputError
from sdbridge.preview.web import command_message
from sdbridge.protocol import codec
from sdbridge.protocol import messages as m

from .fuzz_harness import ServerHarness, hello

#: Per-entry Python cost not counted by a byte budget of keys and values (str and dict slot headers): the bound
#: below allows this much per kept byte of budget, so a budget that counts only UTF-8 bytes of 1-byte keys fails.
OVERHEAD_FACTOR = 6
FIXED_MARGIN = 512 * 1024  # interpreter caches, the session's own fixed structures, the last message in flight

_LONG = ("x" * 250, "\u4e2d" * 200, "\U0001F600" * 60)
_NUMBERS = (0, -1, 2**31 - 1, -(2**31), 2**53, 1e39, -1e39, float("inf"), float("-inf"), float("nan"), 0.5, True)


def _key(rng: random.Random, n: int) -> str:
    shape = rng.randrange(4)
    if shape == 0:
        return f"k{n}"
    if shape == 1:
        return chr(0x4E00 + n % 20000)
    if shape == 2:
        return f"{n:0200d}"
    return rng.choice(("", " ", "a.b", "\x00", "key")) + str(n)


def _value(rng: random.Random, shared: str) -> Any:
    r = rng.random()
    if r < 0.5:
        return shared  # one long value under many keys: costly once unpacked
    if r < 0.8:
        return rng.choice(_NUMBERS)
    return rng.choice(_LONG)[: rng.randint(0, 250)]


def payload_message(rng: random.Random, max_items: int = 1024) -> m.Message:
    """A State or GameEvent with a hostile shape (up to `max_items` entries; the decoder's list limit)."""
    count = rng.choice((1, 8, 64, 512, max_items))
    shared = rng.choice(_LONG)
    base = rng.randrange(1 << 20)
    entries = {_key(rng, base + i): _value(rng, shared) for i in range(count)}
    if rng.random() < 0.5:
        return m.State(entries=entries, replace_all=rng.random() < 0.2)
    name = rng.choice(("boss_appears", "e" * 250, "\u4e2d", "enter_biome"))
    return m.GameEvent(name=name, payload=entries)


def encode_or_none(message: m.Message) -> bytes | None:
    """The wire bytes of a State or GameEvent with every repeated string stored once (see
    tests/protocol/shared_strings.py: small on the wire, large unpacked), or None where a value cannot be
    carried by the wire at all (e.g. a float too large for its type)."""
    try:
        return encode_shared(message)  # type: ignore[arg-type]
    except (OverflowError, struct.error, TypeError, ValueError):
        return None


def retained_after_payloads(harness: ServerHarness, seed: int, count: int) -> tuple[int, int]:
    """Open a session, send `count` payload messages from it; returns (bytes retained, bound from the budgets)."""
    rng = random.Random(seed)
    harness.feed(0, hello())
    messages = [encode_or_none(payload_message(rng)) for _ in range(count)]
    gc.collect()
    tracemalloc.start()
    try:
        for header in messages:
            if header is not None:
                harness.feed(0, [header])
        del messages
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    limits = harness.server.config.limits
    bound = OVERHEAD_FACTOR * (limits.max_state_bytes + limits.max_event_payload_bytes) + FIXED_MARGIN
    return retained, bound


# ---------------------------------------------------------------------------------------------- preview

_HOSTILE_NUMBERS = (-1, 0, 1, 2**31, 2**32, 2**40, 2**63, 2**64, -(2**63) - 1, 1e39, -1e39, 1e-45, 0.5,
                    float("nan"), float("inf"), True, "7", None)


def preview_command(rng: random.Random) -> dict[str, Any]:
    """One page command with hostile values (what a page, or anyone holding its address, can send)."""
    op = rng.choice(("params", "params", "params", "prompt", "event", "watch", "nope"))
    request: dict[str, Any] = {"op": op, "session": rng.choice((1, 1, 1, 2, -1, 2**70, "1")), "req": rng.randrange(9)}
    if op == "params":
        for key in ("guidance_scale", "delta", "seed", "similarity_threshold", "similarity_max_skip"):
            if rng.random() < 0.4:
                request[key] = rng.choice(_HOSTILE_NUMBERS)
        if rng.random() < 0.3:
            request["t_index_list"] = rng.choice(([2**40], [-1], list(range(50)), [0] * 2000, [1.5], []))
        if rng.random() < 0.2:
            request["similarity_filter_enabled"] = rng.choice((True, False, 1, "yes"))
    elif op == "prompt":
        request["text"] = rng.choice(("a castle", "", "y" * 5000, "\u4e2d" * 100))
        if rng.random() < 0.5:
            request["transition_seconds"] = rng.choice(_HOSTILE_NUMBERS)
    elif op == "event":
        request["name"] = rng.choice(("boss", "", " ", "z" * 300))
        request["payload"] = {f"p{i}": rng.choice(_HOSTILE_NUMBERS[:14]) for i in range(rng.choice((0, 1, 64)))}
    return request


@dataclass
class PreviewReport:
    """What a preview-command run saw."""

    commands: int = 0
    refused_by_page: int = 0
    applied: int = 0
    refused_by_server: int = 0
    failures: list[str] = field(default_factory=list)


def run_preview_commands(seed: int, count: int) -> PreviewReport:
    """Send `count` hostile page commands through the page's parser and the server's control runner."""
    rng = random.Random(seed)
    harness = ServerHarness(trace_every=0)
    harness.feed(0, hello())
    sid = next(iter(harness.server.table.sessions())).session_id
    report = PreviewReport()
    for _ in range(count):
        request = preview_command(rng)
        report.commands += 1
        if request.get("session") == 1:
            request["session"] = sid
        _one_command(harness, request, report)
    return report


def _one_command(harness: ServerHarness, request: dict[str, Any], report: PreviewReport) -> None:
    try:
        message = command_message(request)
    except (InputError, ValueError, TypeError, KeyError, OverflowError):
        report.refused_by_page += 1
        return
    session = request.get("session")
    if not isinstance(session, int) or isinstance(session, bool):
        report.refused_by_page += 1
        return
    harness.transport.sent.clear()
    future = harness.server.submit_control(session, message, "preview")
    try:
        harness.server.controls.run()  # what the I/O loop calls: an exception here stops every session
    except Exception as exc:  # the finding itself
        report.failures.append(f"control runner raised {type(exc).__name__}: {exc}; command {_short(request)}")
        return
    if not future.done():
        report.failures.append(f"future left pending; command {_short(request)}")
        return
    if future.exception() is None:
        report.applied += 1
    else:
        report.refused_by_server += 1
    for _identity, header in harness.transport.sent:
        try:
            codec.decode(header)
        except Exception as exc:
            report.failures.append(f"sent an undecodable message ({exc}); command {_short(request)}")


def _short(request: dict[str, Any]) -> str:
    def clip(v: Any) -> Any:
        if isinstance(v, list) and len(v) > 4:
            return [*v[:4], f"... {len(v)} items"]
        if isinstance(v, str) and len(v) > 20:
            return v[:20] + f"... {len(v)} chars"
        if isinstance(v, float) and not math.isfinite(v):
            return repr(v)
        return v

    return repr({k: clip(v) for k, v in request.items()})
