"""`bench pipeline`, `bench temporal` and `bench fairness` refuse `--model identity` while the flags are parsed,
saying why and what to use (pipeline and temporal failed after their setup with the library's "the 'identity'
components have no model; use build_pipeline() or IdentityPipeline", and fairness ran and printed a ratio of a
server that ignored every costly request); the transport and preview benchmarks keep taking it."""

from __future__ import annotations

import argparse
import importlib

import pytest

from sdbridge.commands import bench_preview, bench_transport


def _parse(module_name: str, *argv: str) -> argparse.Namespace:
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"sdbridge {module.NAME.replace('-', ' ')}")
    module.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize("module_name", ["sdbridge.commands.bench_pipeline", "sdbridge.commands.bench_temporal",
                                         "sdbridge.commands.bench_fairness"])
def test_identity_is_refused_naming_why_and_what_to_use(module_name: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parse(module_name, "--model", "identity")
    assert exit_info.value.code == 2
    message = capsys.readouterr().err.splitlines()[-1]
    assert "argument --model: 'identity' has no diffusion model" in message
    assert "would measure nothing" in message and "use tiny" in message
    assert _parse(module_name, "--model", "tiny").model == "tiny"


def test_transport_and_preview_take_identity() -> None:
    assert _parse(bench_preview.__name__, "--model", "identity").model == "identity"
    assert _parse(bench_transport.__name__).size == 512  # no --model: it always serves identity
