"""Coverage-guided fuzzing with atheris (libFuzzer) of the same target as the CI run: local, long runs.

    bash scripts/fuzz.sh                      # one hour; or any libFuzzer flags, e.g. -runs=1000000

The sdbridge package is imported under atheris' instrumentation (coverage feedback); torch and the
rest are not. Inputs are split into (peer, parts) by fuzz_harness.split_input; the checks are the
harness's (a failed check raises, which libFuzzer reports as a crash and saves the input).
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["sdbridge"]):
    import sdbridge.protocol.codec
    import sdbridge.server  # noqa: F401

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reliability.fuzz_harness import ServerHarness, _warm_up, check_decoder, seed_inputs, split_input


def main() -> None:
    """Seed an empty corpus folder, then fuzz until libFuzzer's limits (-max_total_time, -runs) stop it."""
    harness = ServerHarness(trace_every=1)
    _warm_up(harness)
    corpus = [a for a in sys.argv[1:] if not a.startswith("-")]
    if corpus and Path(corpus[0]).is_dir() and not any(Path(corpus[0]).iterdir()):
        for n, seed in enumerate(seed_inputs()):
            (Path(corpus[0]) / f"seed-{n:03d}").write_bytes(seed)

    def one_input(data: bytes) -> None:
        who, parts = split_input(data)
        harness.feed(who, parts)
        check_decoder(parts, harness.report)
        if harness.report.failures:
            raise AssertionError("\n".join(harness.report.failures))

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
