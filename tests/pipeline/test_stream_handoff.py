"""Tensors the worker thread makes on its stream and the device lane's call reads last are marked as used on the
call's stream (sdbridge.pipeline.streams): a restart's Stream Batch buffers, a frame's motion, a control image and a
ControlNet's empty slot buffer. Without the mark, the caching allocator hands their memory back to the worker's
stream as soon as the call drops them, while the call's kernels may still read it. No GPU here: `used_here` is
checked with fake tensors and a replaced torch.cuda.current_stream, the pipeline's calls of it with a recorder."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from sdbridge.pipeline import CfgMode, StreamConfig, StreamPipeline, streams
from sdbridge.pipeline.controlnet import ControlNets, tiny_controlnet
from tests.conftest import random_frames

SIZE = 64


class _FakeCudaTensor:
    def __init__(self, device: str) -> None:
        self.device = torch.device(device)
        self.recorded: list[Any] = []

    def record_stream(self, stream: Any) -> None:
        self.recorded.append(stream)


def test_used_here_records_the_current_stream_of_the_tensors_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: ("current stream of", device))
    on_gpu, on_cpu = _FakeCudaTensor("cuda:1"), _FakeCudaTensor("cpu")
    streams.used_here(on_gpu, None, on_cpu)  # type: ignore[arg-type]
    assert on_gpu.recorded == [("current stream of", torch.device("cuda:1"))]  # its device's, not cuda:0's
    assert on_cpu.recorded == []


class _Marked:
    """Stands in for streams.used_here: the storages of the tensors marked so far."""

    def __init__(self) -> None:
        self.storages: set[int] = set()

    def __call__(self, *tensors: torch.Tensor | None) -> None:
        self.storages.update(t.untyped_storage().data_ptr() for t in tensors if t is not None)

    def has(self, tensor: torch.Tensor) -> bool:
        return tensor.untyped_storage().data_ptr() in self.storages


def _pipe(comps: Any, nets: ControlNets | None = None, **settings: Any) -> StreamPipeline:
    cfg = StreamConfig(width=SIZE, height=SIZE, t_index_list=[16, 45], cfg_mode=CfgMode.SELF, seed=7, **settings)
    pipe = StreamPipeline(comps, cfg, nets)
    pipe.prepare(prompt="a watercolor castle", negative_prompt="blurry")  # the worker thread's part
    return pipe


def test_a_restarts_buffers_and_a_frames_motion_are_marked_where_the_call_reads_them(
        tiny: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    marked = _Marked()
    monkeypatch.setattr(streams, "used_here", marked)
    pipe = _pipe(tiny, motion_warp=0.5, scene_cut_threshold=0.0)
    restart_buffers = (pipe._x_buffer, pipe._ref_buffer)  # made by prepare, replaced by the call
    motion = torch.zeros(1, 2, SIZE, SIZE)
    pipe.temporal.set_motion(motion)  # the worker thread sets it before submitting the call
    assert not marked.storages
    pipe(random_frames(1, seed=2)[0])  # the lane's call
    assert all(marked.has(t) for t in restart_buffers)
    assert marked.has(motion)


def test_a_control_image_and_the_empty_slot_buffer_are_marked_where_the_call_reads_them(
        tiny: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    marked = _Marked()
    monkeypatch.setattr(streams, "used_here", marked)
    pipe = _pipe(tiny, ControlNets({"depth": tiny_controlnet(tiny, seed=1)}))
    (empty_slots, _), = pipe.control._buffer.values()  # made by prepare's restart, replaced by the call
    pipe.control.set_image("depth", np.full((SIZE, SIZE, 3), 90, np.uint8))
    (image,) = pipe.control._pending.values()  # made by set_image, dropped by the call
    assert not marked.storages
    pipe(random_frames(1, seed=2)[0])
    assert marked.has(empty_slots) and marked.has(image)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU and a CUDA build of torch")
def test_on_a_gpu_a_marked_tensor_is_not_reused_by_its_streams_next_allocation() -> None:
    """The allocator's behaviour the fix relies on: a tensor made on the default stream, read on a side stream
    still busy (torch.cuda._sleep) and freed: unmarked, the default stream's next allocation of its size takes
    its memory at once (the control); marked with used_here, it does not."""

    def reused(mark: bool) -> bool:
        side = torch.cuda.Stream()
        x = torch.ones(1 << 18, device="cuda")  # 1 MiB, on the default stream
        ptr = x.data_ptr()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            torch.cuda._sleep(200_000_000)  # the side stream stays busy for a while
            (x * 2).sum()  # x read on the side stream, after the sleep
            if mark:
                streams.used_here(x)
        del x
        taken = torch.empty(1 << 18, device="cuda").data_ptr() == ptr
        torch.cuda.synchronize()
        return taken

    assert reused(mark=False)  # the hazard is real on this allocator
    assert not reused(mark=True)
