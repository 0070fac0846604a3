"""CUDA graph trees on the device lane thread (acceleration/static_compile.py, mode "reduce-overhead"): torch before
2.13 keeps the trees' per-thread state only on the thread that imported torch._inductor.cudagraph_trees, and its
get_obj asserted on any other thread, so a shape first captured on the lane thread failed every call. A runner in
mode "reduce-overhead" gives its calling thread that state first. No GPU here: the runner compiles with backend
"eager" (no capture) and torch 2.11's get_obj is put back in place of this torch's, which sets the state up itself;
the test asks the trees for the calling thread's container, as the capture of a new graph does."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch._inductor import cudagraph_trees

from sdbridge.acceleration.static_compile import StaticCompiled


def _get_obj_before_2_13(local: Any, attr_name: str) -> Any:
    """torch 2.11's cudagraph_trees.get_obj."""
    if hasattr(local, attr_name):
        return getattr(local, attr_name)
    assert torch._C._is_key_in_tls(attr_name)
    return torch._C._get_obj_in_tls(attr_name)


def _on_a_new_thread(work: Callable[[], Any]) -> Any:
    """work() on a thread of its own (as the device lane's): its value, or the exception it raised."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(work())
        except Exception as exc:
            out.append(exc)

    thread = threading.Thread(target=run, name="lane-like")
    thread.start()
    thread.join(60)
    assert not thread.is_alive() and len(out) == 1
    return out[0]


@pytest.fixture
def torch_2_11_trees(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cudagraph_trees, "get_obj", _get_obj_before_2_13)
    monkeypatch.delattr(cudagraph_trees, "_initialize_tls")


def test_a_graph_runner_called_on_a_new_thread_gives_it_the_trees_state(torch_2_11_trees: None) -> None:
    runner = StaticCompiled("unet", torch.nn.Linear(4, 4), "eager", "reduce-overhead")
    # the failure the runner prevents: a thread that never called it has no trees' state (this is what the
    # capture of a graph first seen on the lane thread asked for, and asserted on)
    failed = _on_a_new_thread(lambda: cudagraph_trees.get_container(0))
    assert isinstance(failed, AssertionError)

    def call_then_capture() -> Any:
        runner(torch.ones(2, 4))
        return cudagraph_trees.get_container(0)

    container = _on_a_new_thread(call_then_capture)
    assert isinstance(container, cudagraph_trees.TreeManagerContainer)


def test_a_runner_without_graphs_leaves_the_thread_alone(torch_2_11_trees: None) -> None:
    runner = StaticCompiled("unet", torch.nn.Linear(4, 4), "eager", None)

    def call_then_capture() -> Any:
        runner(torch.ones(2, 4))
        return cudagraph_trees.get_container(0)

    assert isinstance(_on_a_new_thread(call_then_capture), AssertionError)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU and a CUDA build of torch")
def test_on_a_gpu_a_lane_thread_replays_warmed_shapes_and_captures_new_ones() -> None:
    """inductor with CUDA graphs: warmed (captured) on this thread, then called on another thread on a stream of
    its own, as the device lane does: the warmed shape and a shape first seen there both give eager's values."""
    module = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.GELU(), torch.nn.Linear(64, 8)).cuda().eval()
    runner = StaticCompiled("unet", module, "inductor", "reduce-overhead")
    warmed, unwarmed = torch.randn(4, 64, device="cuda"), torch.randn(6, 64, device="cuda")
    with torch.inference_mode():
        for _ in range(3):
            runner(warmed)
    torch.cuda.synchronize()

    def lane() -> list[torch.Tensor]:
        torch.cuda.set_device(warmed.device)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.default_stream())
        outs = []
        with torch.inference_mode(), torch.cuda.stream(stream):
            for x in (warmed, unwarmed, unwarmed, unwarmed, warmed):
                outs.append(runner(x).clone())
        stream.synchronize()
        return outs

    outs = _on_a_new_thread(lane)
    assert isinstance(outs, list), outs
    with torch.inference_mode():
        expected = [module(x) for x in (warmed, unwarmed, unwarmed, unwarmed, warmed)]
    for got, want in zip(outs, expected, strict=True):
        torch.testing.assert_close(got, want, atol=1e-3, rtol=1e-3)
