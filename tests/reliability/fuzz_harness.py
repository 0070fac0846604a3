"""Fuzzing harness for the decoder and the server's message handling (in-process, no sockets).

Two drivers share the same checks:
- `run_seeded(seed, count)`: a deterministic mutation fuzzer (CI: tests/reliability/test_fuzz.py);
- atheris, coverage guided, for long local runs: tests/reliability/fuzz_atheris.py (run by scripts/fuzz.sh).

Checks, per input: the decoder raises nothing but ProtocolError and what it decodes re-encodes to the
same message; the server's `dispatcher.handle` answers every input with an Error (counted in ServerStats.rejected)
or accepts it (counted in ServerStats.accepted), never both and never neither; no INTERNAL error (an
exception the server did not expect); and the Python memory allocated while handling one input stays
below the configured part limit plus a fixed margin (tracemalloc peak), so no header can make the
server allocate what it announces.
"""

from __future__ import annotations

import contextlib
import random
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import zmq

from sdbridge.config import ServerConfig, with_overrides
from sdbridge.errors import ProtocolError
from sdbridge.protocol import codec
from sdbridge.protocol import messages as m
from sdbridge.served_model import ModelDescription
from sdbridge.server import BridgeServer
from sdbridge.transport.zmq_server import TransportStats

MAX_SIDE = 128
MAX_BYTES = MAX_SIDE * MAX_SIDE * 4 + 4096
ALLOC_MARGIN = 64 * 1024  # bytes of Python objects one message may cost beyond its own size
ALLOC_BOUND = MAX_BYTES + ALLOC_MARGIN
IDENTITIES = (b"\x00fuzz-a", b"\x00fuzz-b", b"\x00fuzz-c")
RESET_EVERY = 2000  # a fresh server now and then, so frames in flight (no worker here) do not pin every session


def fuzz_config() -> ServerConfig:
    """Identity model, small limits, 2 sessions (so the session limit is reachable), a low event rate."""
    return with_overrides(
        ServerConfig(),
        model={"name": "identity", "ip_adapter": "tiny"},  # an IP-Adapter: the StyleImages capability is offered
        limits={"max_width": MAX_SIDE, "max_height": MAX_SIDE, "max_message_bytes": MAX_BYTES,
                "max_sessions": 2, "max_text_chars": 256, "max_events_per_second": 1000},
        top={"bind": "inproc://fuzz-unused"},
    )


class RecordingTransport:
    """Stands in for RouterTransport: records what the server sends, never blocks, no socket."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []
        self.stats = TransportStats()

    def send(self, identity: bytes, header: bytes, payload: object | None = None) -> bool:
        self.sent.append((identity, header))
        return True

    def close(self) -> None:
        """Nothing to close."""


@dataclass
class FuzzReport:
    """What a run saw."""

    inputs: int = 0
    decoder_inputs: int = 0
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    decoded_ok: int = 0
    traced: int = 0  # inputs whose allocations tracemalloc measured
    max_alloc: int = 0
    failures: list[str] = field(default_factory=list)


class ServerHarness:
    """A BridgeServer without sockets or worker whose `dispatcher.handle` is called directly."""

    def __init__(self, trace_every: int = 8) -> None:
        self.trace_every = trace_every  # tracemalloc costs ~8x: trace one input in this many (0 = none)
        self.report = FuzzReport()
        self._since_reset = 0
        self._new_server()

    def _new_server(self) -> None:
        model = ModelDescription("identity", m.ModelFamily.IDENTITY, 64, 64, 0, passthrough=True)
        self.server = BridgeServer(fuzz_config(), pipeline_factory=lambda w, h: None, model=model)
        self.transport = RecordingTransport()
        self.server.outbound.transport = self.transport  # type: ignore[assignment]  # in-process: no ROUTER
        self._since_reset = 0

    def feed(self, who: int, parts: list[bytes]) -> None:
        """Hand one message (1..n parts) from peer `who` to the server and check the outcome."""
        if self._since_reset >= RESET_EVERY:
            self._fold_stats()
            self._new_server()
        self._since_reset += 1
        identity = IDENTITIES[who % len(IDENTITIES)]
        frames = [zmq.Frame(p) for p in parts]
        stats = self.server.stats
        rejected0, accepted0 = stats.rejected_total, stats.accepted
        self.transport.sent.clear()
        traced = self.trace_every > 0 and self.report.inputs % self.trace_every == 0
        if traced:
            tracemalloc.start()  # counts only what is allocated from here on
        try:
            self.server.dispatcher.handle(identity, frames)  # an exception escaping here is a finding
        finally:
            if traced:
                alloc = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
        if traced:
            self.report.traced += 1
            self.report.max_alloc = max(self.report.max_alloc, alloc)
            if alloc > ALLOC_BOUND:
                self._fail(f"handling {[len(p) for p in parts]} bytes allocated {alloc} > {ALLOC_BOUND}", parts)
        self.report.inputs += 1
        d_rej, d_acc = stats.rejected_total - rejected0, stats.accepted - accepted0
        if d_rej + d_acc != 1:
            self._fail(f"input counted {d_rej} times rejected and {d_acc} times accepted (want exactly once)", parts)
        if d_rej:
            replies = [codec.decode(h) for ident, h in self.transport.sent if ident == identity]
            errors = [r for r in replies if isinstance(r, m.ErrorMsg)]
            if not errors:
                self._fail(f"rejected without an Error reply (sent {replies})", parts)
            elif any(e.code is m.ErrorCode.INTERNAL for e in errors):
                self._fail(f"INTERNAL error (an unexpected exception): {errors[-1].message}", parts)

    def _fold_stats(self) -> None:
        for name, n in self.server.stats.rejected.items():
            self.report.rejected[name] = self.report.rejected.get(name, 0) + n
        self.report.accepted += self.server.stats.accepted
        self.server.stats.rejected.clear()
        self.server.stats.accepted = 0

    def finish(self) -> FuzzReport:
        """Fold the current server's counters into the report and return it."""
        self._fold_stats()
        return self.report

    def _fail(self, why: str, parts: list[bytes]) -> None:
        self.report.failures.append(f"{why}; input parts: {[bytes(p[:64]).hex() for p in parts]}")
        if len(self.report.failures) > 50:
            raise AssertionError("\n".join(self.report.failures))


def check_decoder(parts: list[bytes], report: FuzzReport) -> None:
    """decode/decode_multipart raise only ProtocolError; a decoded message re-encodes to itself."""
    report.decoder_inputs += 1
    limits = codec.DecodeLimits(max_width=MAX_SIDE, max_height=MAX_SIDE, max_message_bytes=MAX_BYTES,
                                max_text_chars=256)
    try:
        message = codec.decode(parts[0], limits)
    except ProtocolError as exc:
        if not isinstance(exc.code, int) or exc.code == m.ErrorCode.UNKNOWN:
            report.failures.append(f"ProtocolError without a code: {exc}")
        message = None
    if message is not None:
        report.decoded_ok += 1
        encoded = codec.encode(message)
        # A buffer whose tables or strings are shared (aliased offsets) re-encodes larger than it came, every use
        # written out: compare under a header limit that admits the re-encoding; the text cap stays as decoded.
        again = codec.decode(encoded, replace(limits, max_header_bytes=max(limits.max_header_bytes, len(encoded)),
                                              max_message_bytes=max(limits.max_message_bytes, len(encoded))))
        if again != message and not _has_nan(message):
            report.failures.append(f"re-encoding changed {type(message).__name__}: {message} -> {again}")
    with contextlib.suppress(ProtocolError):  # decode_multipart may refuse; any other exception escapes
        codec.decode_multipart(parts, limits)


def _has_nan(message: object) -> bool:
    return "nan" in repr(message)


# ---------------------------------------------------------------------------------------------- inputs

def _golden() -> dict[str, m.Message]:
    tests_dir = Path(__file__).resolve().parents[1]
    if str(tests_dir) not in sys.path:
        sys.path.insert(0, str(tests_dir))
    from protocol.golden_messages import GOLDEN

    return GOLDEN


_INTERESTING_INTS = (0, 1, -1, 2, 3, 7, 8, 127, 128, 255, 256, 4095, 4096, 65535, 65536, 2**31 - 1, -(2**31),
                     2**32 - 1, 2**63 - 1, MAX_SIDE, MAX_SIDE + 1, MAX_BYTES, MAX_BYTES + 1)


def _hostile_value(rng: random.Random, value: Any) -> Any:
    if isinstance(value, bool):
        return rng.random() < 0.5
    if isinstance(value, int):
        return rng.choice(_INTERESTING_INTS) if rng.random() < 0.7 else rng.randint(-(2**40), 2**40)
    if isinstance(value, float):
        return rng.choice((0.0, -1.0, 1e9, -1e30, float("inf"), float("nan"), 0.5, 3601.0, rng.uniform(-10, 10)))
    if isinstance(value, str):
        return rng.choice(("", "x" * rng.randint(0, 600), "\u00e9\u4e2d\U0001F600", "a\x00b", value))
    return value


def structured(rng: random.Random, golden: dict[str, m.Message]) -> list[bytes]:
    """A well-formed FlatBuffers message of a random kind with hostile field values (and pixels for frames)."""
    base = golden[rng.choice(sorted(golden))]
    changes: dict[str, Any] = {}
    for f in fields(base):  # type: ignore[arg-type]
        if rng.random() < 0.4:
            value = getattr(base, f.name)
            changes[f.name] = _hostile_planes(rng, value) if f.name == "planes" else _hostile_value(rng, value)
    try:
        message = replace(base, **changes)  # type: ignore[type-var]
        header = codec.encode(message)
    except Exception:  # the encoder refused (range, type): use the base message
        message, header = base, codec.encode(base)
    parts = [header]
    if isinstance(message, m.FrameHeader | m.StyleImage):  # (StyleImage, protocol 1.4: pixels like a Frame's)
        size = message.stride * message.height if 0 <= message.stride * message.height <= MAX_BYTES else 64
        parts.append(bytes(size + rng.choice((0, 0, 0, -1, 1))) if size > 0 else b"")
        for plane in getattr(message, "planes", ()):  # protocol 1.3: a part per plane, its size sometimes off by one
            size = plane.stride * plane.height if 0 <= plane.stride * plane.height <= MAX_BYTES else 64
            parts.append(rng.randbytes(max(0, size + rng.choice((0, 0, 0, -1, 1)))))
    return parts


def _hostile_planes(rng: random.Random, planes: tuple[m.PlaneDesc, ...]) -> tuple[m.PlaneDesc, ...]:
    """Frame.planes with hostile field values (kinds, formats, sizes, depth_near/far...), sometimes one more or less."""
    out = []
    for plane in planes:
        changes = {f.name: _hostile_value(rng, getattr(plane, f.name)) for f in fields(plane) if rng.random() < 0.3}
        out.append(replace(plane, **changes))
    if out and rng.random() < 0.2:
        out.append(out[0]) if rng.random() < 0.5 else out.pop()
    return tuple(out)


def hello(planes: bool = False, styles: bool = False) -> list[bytes]:
    """A Hello with Credits (and the Planes capability when `planes`: its frames' planes reach the server's checks;
    StyleImages when `styles`: its StyleImage messages do)."""
    from sdbridge.protocol.version import PROTOCOL_MAJOR, PROTOCOL_MINOR

    caps = m.Capability.CREDITS | (m.Capability.PLANES if planes else m.Capability.NONE)
    caps |= m.Capability.STYLE_IMAGES if styles else m.Capability.NONE
    return [codec.encode(m.Hello(protocol_major=PROTOCOL_MAJOR, protocol_minor=PROTOCOL_MINOR, client_name="fuzz",
                                 capabilities=caps, pixel_formats=(m.PixelFormat.RGBA8,)))]


def good_frame(rng: random.Random) -> list[bytes]:
    w, h = rng.randint(1, 16), rng.randint(1, 16)
    fmt = rng.choice((m.PixelFormat.RGBA8, m.PixelFormat.BGRA8, m.PixelFormat.RGB8))
    stride = w * fmt.bytes_per_pixel + rng.choice((0, 0, 4))
    header = m.FrameHeader(frame_id=rng.randint(1, 10**6), width=w, height=h, stride=stride, pixel_format=fmt)
    return [codec.encode(header), bytes(stride * h)]


def style_image(rng: random.Random) -> list[bytes]:
    """A valid StyleImage (protocol 1.4) of one of a few names, its pixel part sometimes off by one byte."""
    w, h = rng.randint(1, 16), rng.randint(1, 16)
    fmt = rng.choice((m.PixelFormat.RGBA8, m.PixelFormat.BGRA8, m.PixelFormat.RGB8))
    stride = w * fmt.bytes_per_pixel + rng.choice((0, 0, 4))
    header = m.StyleImage(name=rng.choice(("ink", "oil", "neon", "x" * 300)), width=w, height=h, stride=stride,
                          format=fmt, row_order=rng.choice((m.RowOrder.TOP_DOWN, m.RowOrder.BOTTOM_UP)))
    return [codec.encode(header), rng.randbytes(max(0, stride * h + rng.choice((0, 0, 0, -1, 1))))]


def planes_frame(rng: random.Random) -> list[bytes]:
    """A valid frame with a depth and a motion plane (protocol 1.3); the depth sometimes holds a NaN."""
    w, h = rng.randint(1, 16), rng.randint(1, 16)
    depth = m.PlaneDesc(m.PlaneKind.DEPTH, m.PlaneFormat.R32_F, w, h, 4 * w, depth_encoding=m.DepthEncoding.LINEAR)
    motion = m.PlaneDesc(m.PlaneKind.MOTION, m.PlaneFormat.RG16_F, w, h, 4 * w, motion_units=m.MotionUnits.UV,
                         motion_target=m.MotionTarget.NEXT)
    header = m.FrameHeader(frame_id=rng.randint(1, 10**6), width=w, height=h, stride=4 * w,
                           pixel_format=m.PixelFormat.RGBA8, planes=(depth, motion)[:rng.randint(1, 2)])
    depth_bytes = bytearray(4 * w * h)
    if rng.random() < 0.3:
        depth_bytes[0:4] = b"\x00\x00\xc0\x7f"  # NaN
    return [codec.encode(header), bytes(4 * w * h), bytes(depth_bytes), bytes(4 * w * h)][:2 + len(header.planes)]


def mutate(rng: random.Random, parts: list[bytes]) -> list[bytes]:
    """One to four byte- or part-level mutations."""
    out = [bytearray(p) for p in parts]
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(out))
        b = out[i]
        op = rng.randrange(10)
        if op == 0 and b:
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        elif op == 1 and b:
            b[rng.randrange(len(b))] = rng.choice((0, 1, 0x7F, 0x80, 0xFF))
        elif op == 2 and len(b) >= 4:
            pos = rng.randrange(len(b) - 3)
            b[pos:pos + 4] = (rng.choice(_INTERESTING_INTS) & 0xFFFFFFFF).to_bytes(4, "little")
        elif op == 3 and b:
            del b[rng.randrange(len(b)):]  # truncate
        elif op == 4:
            pos = rng.randrange(len(b) + 1)
            b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 5 and len(b) > 1:
            start = rng.randrange(len(b))
            del b[start:start + rng.randint(1, 16)]
        elif op == 6 and len(out) > 1:
            del out[i]
        elif op == 7 and len(out) < 10:  # (a Frame may have up to limits.max_planes plane parts)
            out.append(bytearray(rng.randbytes(rng.randint(0, 64))))
        elif op == 8 and len(out) > 1:
            out.reverse()
        elif op == 9 and b:
            start = rng.randrange(len(b))
            chunk = b[start:start + rng.randint(1, 32)]
            pos = rng.randrange(len(b) + 1)
            b[pos:pos] = chunk
    return [bytes(p) for p in out] or [b""]


def generate(seed: int, count: int) -> Iterator[tuple[int, list[bytes]]]:
    """`count` deterministic (peer, parts) inputs: valid traffic, hostile values, mutations, random bytes."""
    rng = random.Random(seed)
    golden = _golden()
    corpus: list[list[bytes]] = [[codec.encode(msg)] for msg in golden.values()]
    corpus += [hello(), hello(planes=True), good_frame(rng), good_frame(rng), planes_frame(rng), planes_frame(rng),
               hello(styles=True), style_image(rng)]
    for _ in range(count):
        who = rng.randrange(len(IDENTITIES))
        r = rng.random()
        if r < 0.06:
            parts = hello(planes=rng.random() < 0.5, styles=rng.random() < 0.5)
        elif r < 0.08:
            parts = [codec.encode(m.Bye(reason="fuzz"))]
        elif r < 0.18:
            parts = good_frame(rng) if rng.random() < 0.6 else planes_frame(rng) if rng.random() < 0.6 \
                else style_image(rng)
        elif r < 0.35:
            parts = structured(rng, golden)
            if rng.random() < 0.1:
                corpus.append(parts)
        elif r < 0.90:
            parts = mutate(rng, rng.choice(corpus))
        else:
            parts = [rng.randbytes(rng.randint(0, 300)) for _ in range(rng.randint(1, 3))]
        if len(corpus) > 400:
            del corpus[40:140]  # keep the golden seeds, forget old structured ones
        yield who, parts


def run_seeded(seed: int, count: int, trace_every: int = 8, decoder_every: int = 4,
               progress: Callable[[int], None] | None = None) -> FuzzReport:
    """Feed `count` generated inputs to the server harness (which decodes each one) and one in
    `decoder_every` also to the decoder's own checks (re-encoding)."""
    harness = ServerHarness(trace_every)
    _warm_up(harness)
    for n, (who, parts) in enumerate(generate(seed, count), start=1):
        harness.feed(who, parts)
        if n % decoder_every == 0:
            check_decoder(parts, harness.report)
        if progress is not None and n % 10000 == 0:
            progress(n)
    return harness.finish()


def _warm_up(harness: ServerHarness) -> None:
    """Lazy imports and first-use caches happen once, outside the traced run (they are not per input)."""
    import sdbridge.pipeline  # noqa: F401  # imported lazily by the server's Prompt path

    rng = random.Random(0)
    for who, parts in generate(1, 300):
        harness.feed(who, parts)
    harness.feed(0, hello())
    harness.feed(0, good_frame(rng))
    harness.report = FuzzReport()
    harness._new_server()


# ---------------------------------------------------------------------------------------------- atheris

def split_input(data: bytes) -> tuple[int, list[bytes]]:
    """Atheris bytes -> (peer, parts): byte 0 the peer, byte 1 the part count (1-3), then for 2-3 parts a
    little-endian u16 length of part 1; the rest is the message."""
    if len(data) < 2:
        return 0, [data]
    who, count, body = data[0] % len(IDENTITIES), 1 + data[1] % 3, data[2:]
    if count == 1:
        return who, [body]
    cut = int.from_bytes(body[:2], "little") if len(body) >= 2 else 0
    body = body[2:]
    parts = [body[:cut], body[cut:]]
    if count == 3:
        parts.append(body[: cut // 2])
    return who, parts


def seed_inputs() -> list[bytes]:
    """Starting corpus for atheris in `split_input` form: every golden message, a Hello, some frames."""
    seeds = [b"\x00\x00" + codec.encode(msg) for msg in _golden().values()]
    seeds.append(b"\x00\x00" + hello()[0])
    rng = random.Random(0)
    for _ in range(4):
        header, pixels = good_frame(rng)
        seeds.append(b"\x00\x01" + len(header).to_bytes(2, "little") + header + pixels)
    return seeds
