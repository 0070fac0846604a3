"""runtime.host_heap: with glibc's thresholds raised, a frame's host buffers stop faulting their pages in.

The thresholds are process-wide and cannot be unset, so each measurement runs in a fresh interpreter: the
worker's pixel path with the zero-cost model (sdbridge.bench.host_time) at 512x512, minor page faults per
frame with and without `keep_freed_buffers`.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from sdbridge.runtime.host_heap import keep_freed_buffers

_FAULTS_PER_FRAME = """
import resource, sys
import numpy as np, torch
torch.set_num_threads(1)  # one thread, one malloc arena: intra-op threads' arenas made the counts vary 4x run to run
from sdbridge.bench.host_time import _Clock, _device_step, zero_cost_pipeline
from sdbridge.pipeline import load_components
from sdbridge.runtime.host_heap import keep_freed_buffers
from sdbridge.runtime.pixels import Layout, PixelFormat
if sys.argv[1] == "keep":
    assert keep_freed_buffers()
pipe = zero_cost_pipeline(load_components("tiny", device="cpu", dtype=torch.float32), 512, _Clock())
step = _device_step(pipe, 512)
layout = Layout.packed(512, 512, PixelFormat.RGBA8)
payload = np.random.default_rng(0).integers(0, 256, layout.expected_bytes, dtype=np.uint8).tobytes()
for _ in range(5):
    step(payload, layout)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step(payload, layout)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


def _faults_per_frame(mode: str) -> float:
    done = subprocess.run([sys.executable, "-c", _FAULTS_PER_FRAME, mode], capture_output=True, text=True,
                          timeout=240, check=True)
    return float(done.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(300)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_frames_buffers_stop_faulting_their_pages_in() -> None:
    if not keep_freed_buffers():
        pytest.skip("not glibc: the thresholds are left alone")
    assert keep_freed_buffers()  # once per process: a second call answers the same
    default = _faults_per_frame("default")
    kept = _faults_per_frame("keep")
    assert default > 50  # glibc's defaults: frame-sized buffers mapped and unmapped every frame (~157 here)
    assert kept < 0.25 * default  # ~10 here
