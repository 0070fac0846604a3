"""Frame <-> tensor conversion with input checks that name the value, the limit and the fix.

`to_model_tensor` normalises uint8 frames to [-1, 1] on the model's device (one allocation, in place, in
the memory format the VAE runs on); `to_uint8` / `to_uint8_tensor` bring (B, 3, H, W) outputs back to
uint8 (B, H, W, 3), contiguous. On a CUDA device host frames go up from a pinned staging buffer and
`to_uint8` comes down into one (`PinnedPool`: torch pin_memory, one buffer per size and thread, reused once
the CUDA event recorded after its copy has completed), with `non_blocking=True`. The CUDA-only calls
(pinned memory, events) are not run on a GPU here; on the CPU the values are the same as the plain
`x / 127.5 - 1` and `((x.clamp(-1, 1) + 1) * 127.5).round()` (tests/runtime/test_device_pixels.py). On the CPU in
float32 with channels_last tensors (the default there) both directions run as one compiled loop each
(sdbridge.host_kernels, the same bytes: tests/runtime/test_host_kernels.py), otherwise as torch operations.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

import numpy as np
import torch

from sdbridge.errors import InputError
from sdbridge.host_kernels import Kernels, kernels

#: Pinned buffers kept per size beyond those in flight (a size change leaves the old ones to the collector).
_SPARE_PER_SIZE = 2


class PinnedPool:
    """Host staging buffers by byte size: pinned when `pin` (CUDA), reused once their copy has completed.

    `take(n)` returns a free (n,) uint8 buffer; `release(buffer, event)` hands it back with the CUDA event
    recorded after the asynchronous copy that reads or fills it (None: already complete). A buffer is taken
    again only once its event reports completion, so a later frame never overwrites bytes an earlier copy
    still reads. Thread-safe: the worker's device lane takes download buffers that the worker thread releases.
    """

    def __init__(self, pin: bool) -> None:
        self._pin = pin
        self._free: dict[int, list[tuple[torch.Tensor, Any]]] = defaultdict(list)
        self._lock = threading.Lock()
        self.allocated = 0  # buffers created so far (a test sees reuse through it)

    def take(self, nbytes: int) -> torch.Tensor:
        """A (nbytes,) uint8 host buffer no pending copy uses."""
        with self._lock:
            free = self._free[nbytes]
            for i, (buffer, event) in enumerate(free):
                if event is None or event.query():
                    del free[i]
                    return buffer
            self.allocated += 1
        return torch.empty(nbytes, dtype=torch.uint8, pin_memory=self._pin)

    def release(self, buffer: torch.Tensor, event: Any) -> None:
        """Hand `buffer` back; it is taken again after `event` (None: at once)."""
        with self._lock:
            free = self._free[buffer.numel()]
            free.append((buffer, event))
            dropped = free.pop(0) if len(free) > _SPARE_PER_SIZE else None
        if dropped is not None and dropped[1] is not None:  # never drop pinned memory a copy still reads
            dropped[1].synchronize()


_THREAD = threading.local()


def thread_pool() -> PinnedPool:
    """This thread's pinned pool for CUDA copies (pipelines of one thread share it)."""
    pool = getattr(_THREAD, "pool", None)
    if pool is None:
        pool = _THREAD.pool = PinnedPool(pin=True)
    return pool


def record_event(device: torch.device) -> Any:
    """A CUDA event recorded now on `device`'s current stream (named: the calling thread's current device may be
    another); None on other devices (their copies are synchronous)."""
    if device.type != "cuda":
        return None
    event = torch.cuda.Event()
    event.record(torch.cuda.current_stream(device))
    return event


def upload(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`tensor` on `device`: from a CPU tensor to CUDA through a pinned buffer with non_blocking=True."""
    if device.type != "cuda" or tensor.device.type != "cpu":
        return tensor.to(device)
    pool = thread_pool()
    staging = pool.take(tensor.numel() * tensor.element_size())
    host = staging.view(tensor.dtype).view(tensor.shape)
    host.copy_(tensor)
    out = host.to(device, non_blocking=True)
    pool.release(staging, record_event(device))
    return out


def to_model_tensor(
    image: np.ndarray | torch.Tensor, width: int, height: int, frames: int,
    device: torch.device, dtype: torch.dtype, memory_format: torch.memory_format = torch.contiguous_format,
) -> torch.Tensor:
    """Frames as a (frames, 3, H, W) tensor in [-1, 1] on `device`, in `memory_format`.

    Accepts uint8 HxWx3 (or frames x H x W x 3) as numpy or torch (on any device), or a float torch tensor
    3xHxW (or frames x 3 x H x W) in [0, 1].
    """
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise InputError(f"image dtype is {image.dtype}; expected uint8 RGB (use (x * 255).astype(np.uint8))")
        if not image.flags.writeable:  # a view of a read-only buffer: torch.from_numpy warns on those
            image = image.copy()
        tensor = torch.from_numpy(np.ascontiguousarray(image))
    elif isinstance(image, torch.Tensor):
        tensor = image
    else:
        raise InputError(f"image is a {type(image).__name__}; expected a numpy array or a torch tensor")
    if tensor.dtype == torch.uint8:
        if tensor.ndim == 3:
            tensor = tensor.unsqueeze(0)
        _check_shape(tuple(tensor.shape), (frames, height, width, 3), "frames x H x W x 3 uint8", width, height)
        out = torch.empty((frames, 3, height, width), device=device, dtype=dtype, memory_format=memory_format)
        compiled = _fitting_kernels(tensor, out)
        if compiled is not None:  # the same bytes in one compiled loop (sdbridge.host_kernels)
            compiled.unit_floats(tensor.numpy().reshape(-1), out.permute(0, 2, 3, 1).numpy().reshape(-1))
            return out
        out.copy_(upload(tensor, device).permute(0, 3, 1, 2))  # exact: uint8 values fit every float dtype
        return out.div_(127.5).sub_(1.0)  # the same two roundings as x / 127.5 - 1.0
    if tensor.is_floating_point():
        if tensor.ndim == 3:
            tensor = tensor.unsqueeze(0)
        layout = "frames x 3 x H x W float in [0, 1]"
        _check_shape(tuple(tensor.shape), (frames, 3, height, width), layout, width, height)
        out = tensor.to(device=device, dtype=dtype) * 2.0 - 1.0
        return out.contiguous(memory_format=memory_format)
    raise InputError(f"image tensor dtype is {tensor.dtype}; expected torch.uint8 (HxWx3) or float (3xHxW)")


def _check_shape(got: tuple[int, ...], want: tuple[int, ...], layout: str, width: int, height: int) -> None:
    if len(got) != len(want):
        raise InputError(f"image shape {got} has {len(got)} dims; expected {want} ({layout})")
    if got != want:
        raise InputError(
            f"image shape {got} does not match the pipeline's {want} ({layout}); resize frames to "
            f"{width}x{height} (WxH) or build the pipeline with StreamConfig(width=..., height=...) "
            "matching your frames"
        )


def to_uint8_tensor(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] (any memory format) -> contiguous uint8 (B, H, W, 3) on the same device."""
    b, _, h, w = images.shape
    out = torch.empty((b, h, w, 3), dtype=torch.uint8, device=images.device)
    compiled = _fitting_kernels(out, images)
    if compiled is not None:  # the same bytes in one compiled loop (sdbridge.host_kernels)
        compiled.unit_bytes(images.permute(0, 2, 3, 1).numpy().reshape(-1), out.numpy().reshape(-1))
        return out
    widened = images.float()  # the input itself when float32, else a new float32 copy
    scaled = widened.clamp(-1.0, 1.0) if widened is images else widened.clamp_(-1.0, 1.0)  # never the input
    scaled.add_(1.0).mul_(127.5).round_()  # integers in [0, 255]: the uint8 cast below is exact
    pixels = scaled.permute(0, 2, 3, 1)  # (B, H, W, 3): contiguous when `images` is channels_last
    if pixels.device.type == "cpu" and pixels.is_contiguous() and not pixels.requires_grad:  # numpy's cast: ~5x
        np.copyto(out.numpy(), pixels.numpy(), casting="unsafe")
    else:
        out.copy_(pixels)
    return out


def _fitting_kernels(pixels: torch.Tensor, model: torch.Tensor) -> Kernels | None:
    """The compiled host kernels when they convert between `pixels` ((B, H, W, 3) uint8) and `model` ((B, 3, H, W)
    float32): both on the CPU, without autograd, each a contiguous run of H x W x 3 values (model channels_last),
    and numba installed; else None (torch's operations)."""
    fits = (pixels.device.type == "cpu" and model.device.type == "cpu" and model.dtype == torch.float32
            and pixels.dtype == torch.uint8 and pixels.is_contiguous()
            and model.permute(0, 2, 3, 1).is_contiguous() and not model.requires_grad)
    return kernels() if fits else None


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> C-contiguous uint8 (B, H, W, 3), or (H, W, 3) when B == 1, an array of its own.

    On CUDA it comes down with non_blocking=True into a pinned buffer and is read once the CUDA event
    recorded after that copy has completed (not run on a GPU here)."""
    pixels = to_uint8_tensor(images)
    if pixels.device.type == "cuda":
        pool = thread_pool()
        staging = pool.take(pixels.numel())
        staging.copy_(pixels.view(-1), non_blocking=True)
        event = record_event(pixels.device)
        event.synchronize()
        array = staging.numpy().reshape(pixels.shape).copy()
        pool.release(staging, None)
    else:
        array = pixels.numpy()
    return array[0] if array.shape[0] == 1 else array
