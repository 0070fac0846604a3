"""Tensors handed from one CUDA stream to another: made on the worker thread's stream, last read on the lane's.

The server's worker thread changes a pipeline between calls (a restart's empty Stream Batch buffers, a control
image, a frame's motion) on its own current stream, the device's default stream; the device lane runs the model
call on a stream of its own (runtime.device_lane) and is where those tensors are read last and dropped. The CUDA
caching allocator knows only the stream a block was allocated on: freed by the lane, the block goes back to the
default stream's pool at once, and the worker thread's next allocation there (the next frame's upload) can take
it and overwrite it while kernels the lane queued still read it. `used_here` tells the allocator about the other
stream (`Tensor.record_stream`): the block is then reused only once the work queued on it when the tensor was
freed has run. A tensor used on the stream it was allocated on is ignored by the allocator, so marking a tensor
the lane made itself costs nothing but the call.

Not run on a GPU here: tests/pipeline/test_stream_handoff.py checks the calls with fakes, and that the pipeline
marks each such tensor where the call reads it.
"""

from __future__ import annotations

import torch


def used_here(*tensors: torch.Tensor | None) -> None:
    """Mark CUDA `tensors` as read by the current stream of their device (None and other devices: nothing)."""
    for tensor in tensors:
        if tensor is not None and tensor.device.type == "cuda":
            tensor.record_stream(torch.cuda.current_stream(tensor.device))
