"""`sdbridge bench fairness` names the dtype its server ran in (dtype auto: bfloat16 on CPUs with AMX or
AVX512-BF16), so two machines' figures can be compared (the header named model, size and threads only)."""

from __future__ import annotations

import argparse

from sdbridge.commands import bench_fairness
from sdbridge.config import Dtype, ServerConfig, with_overrides


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench_fairness.add_arguments(parser)
    return parser.parse_args([])


def test_the_header_names_the_resolved_dtype_and_device() -> None:
    cfg = ServerConfig()
    picked, _why = cfg.model.resolved_dtype(cfg.accel.backend.value)
    line = bench_fairness.header(_args(), cfg, 4096)
    assert line.startswith(f"fairness (tiny 64x64, {picked.value} (dtype auto) on cpu, attacker: "), line
    assert "new 4096-character texts" in line and "1 torch thread(s))" in line
    fixed = bench_fairness.header(_args(), with_overrides(cfg, model={"dtype": Dtype.FLOAT32}), 10)
    assert "64x64, float32 on cpu" in fixed and "(dtype auto)" not in fixed
