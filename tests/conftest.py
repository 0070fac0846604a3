"""Shared pytest fixtures (tiny random-weight components, built once per session) and CI's no-skip rule."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch

from sdbridge.pipeline import Components, load_components


@pytest.fixture(params=[True, False], ids=["identity-inline", "worker"])
def identity_inline(request: pytest.FixtureRequest) -> bool:
    """Both ways the identity model runs: answered on the I/O thread (True, the default) or through the worker
    thread and its latest-wins slot (False, the path a real model takes)."""
    return bool(request.param)


@pytest.fixture(scope="session")
def tiny() -> Components:
    """SD1.5-family random-weight components (fixed weight seed)."""
    return load_components("tiny", device="cpu", dtype=torch.float32)


@pytest.fixture(scope="session")
def tiny_sdxl() -> Components:
    """SDXL-family random-weight components (fixed weight seed)."""
    return load_components("tiny-sdxl", device="cpu", dtype=torch.float32)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One torch intra-op thread for the test: on a loaded 2-core machine two threads measure contention, not the
    code (a tiny model's small ops then spend most of their CPU time waiting for each other)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def wait_for(condition: Callable[[], object], timeout: float = 5.0, what: str = "the condition") -> object:
    """Poll `condition` until truthy and return its value; fail naming `what` after `timeout` seconds. Tests
    synchronise with this (a condition with a deadline), never with a bare sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def random_frames(count: int, size: int = 64, seed: int = 0, batch: int | None = None) -> list[np.ndarray]:
    """`count` random uint8 RGB frames (size x size x 3), or (batch, size, size, 3) when batch is given."""
    rng = np.random.default_rng(seed)
    shape = (size, size, 3) if batch is None else (batch, size, size, 3)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(count)]


NO_SKIP = os.environ.get("SDBRIDGE_NO_SKIP") == "1"
NO_SKIP_HINT = ("SDBRIDGE_NO_SKIP=1 (scripts/test_all.sh): only tests marked `gpu` may skip; install what the reason "
                "names (bash scripts/install_tools.sh, bash scripts/install.sh) or unset SDBRIDGE_NO_SKIP locally")


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    return longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI (SDBRIDGE_NO_SKIP=1) a skipped test that is not marked `gpu` fails, naming its skip reason."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if NO_SKIP and report.skipped and not hasattr(report, "wasxfail") and item.get_closest_marker("gpu") is None:
        report.outcome = "failed"
        report.longrepr = f"skipped ({_skip_reason(report)}) but not marked gpu. {NO_SKIP_HINT}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    """In CI a whole module or folder skipped at collection (importorskip, allow_module_level) fails too."""
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()
    if NO_SKIP and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"{collector.nodeid} skipped at collection ({_skip_reason(report)}). {NO_SKIP_HINT}"
