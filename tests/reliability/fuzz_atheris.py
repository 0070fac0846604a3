"""Coverage-guided fuzzing with atheris (libFuzzer) of the same targets as the CI runs: local, long runs.

    bash scripts/fuzz.sh                      # one hour; or any libFuzzer flags, e.g. -runs=1000000
    SDBRIDGE_FUZZ_TARGET=preview bash scripts/fuzz.sh   # preview page commands instead of wire messages

The sdbridge package is imported under atheris' instrumentation (coverage feedback); torch and the
rest are not. Target `wire` (default): inputs are split into (peer, parts) by fuzz_harness.split_input and
checked by the harness; its seeds include hostile State/GameEvent payload shapes (fuzz_payloads). Target
`preview`: an input is a page command's JSON text, run through the page's parser and the server's control
runner (fuzz_payloads._one_command). A failed check raises, which libFuzzer reports as a crash and saves.
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Callable
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["sdbridge"]):
    import sdbridge.protocol.codec
    import sdbridge.server  # noqa: F401

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reliability.fuzz_harness import ServerHarness, _warm_up, check_decoder, hello, seed_inputs, split_input
from reliability.fuzz_payloads import (
    PreviewReport,
    _one_command,
    encode_or_none,
    payload_message,
    preview_command,
)


def wire_target() -> tuple[list[bytes], Callable[[bytes], None]]:
    """Seeds and the per-input function of the wire-message target."""
    harness = ServerHarness(trace_every=1)
    _warm_up(harness)
    rng = random.Random(0)
    payloads = [encode_or_none(payload_message(rng)) for _ in range(16)]
    seeds = seed_inputs() + [b"\x00\x00" + p for p in payloads if p is not None]

    def one_input(data: bytes) -> None:
        who, parts = split_input(data)
        harness.feed(who, parts)
        check_decoder(parts, harness.report)
        if harness.report.failures:
            raise AssertionError("\n".join(harness.report.failures))

    return seeds, one_input


def preview_target() -> tuple[list[bytes], Callable[[bytes], None]]:
    """Seeds and the per-input function of the preview-command target."""
    harness = ServerHarness(trace_every=0)
    harness.feed(0, hello())
    sid = next(iter(harness.server.table.sessions())).session_id
    rng = random.Random(0)
    seeds = [json.dumps({**c, "session": sid}).encode() for c in (preview_command(rng) for _ in range(64))]
    report = PreviewReport()

    def one_input(data: bytes) -> None:
        try:
            request = json.loads(data.decode("utf-8", "replace"))
        except (ValueError, RecursionError):
            return
        if isinstance(request, dict):
            _one_command(harness, request, report)
        if report.failures:
            raise AssertionError("\n".join(report.failures))

    return seeds, one_input


def main() -> None:
    """Seed an empty corpus folder, then fuzz until libFuzzer's limits (-max_total_time, -runs) stop it."""
    target = os.environ.get("SDBRIDGE_FUZZ_TARGET", "wire")
    targets = {"wire": wire_target, "preview": preview_target}
    if target not in targets:
        raise SystemExit(f"SDBRIDGE_FUZZ_TARGET={target!r} is not a target; use one of {sorted(targets)}")
    seeds, one_input = targets[target]()
    corpus = [a for a in sys.argv[1:] if not a.startswith("-")]
    if corpus and Path(corpus[0]).is_dir() and not any(Path(corpus[0]).iterdir()):
        for n, seed in enumerate(seeds):
            (Path(corpus[0]) / f"seed-{n:03d}").write_bytes(seed)
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
