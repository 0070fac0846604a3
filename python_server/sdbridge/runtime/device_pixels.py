"""Wire pixels <-> a pipeline's device: the layout work done where the model runs.

`DevicePixels(device)` converts a client frame into the pipeline's input, an (h, w, 3) uint8 RGB top-down
image at the processing size, and a pipeline output back into the client's packed layout.

On a CUDA device (`staged`): the wire bytes are copied into a pinned host buffer (`torch.empty(...,
pin_memory=True)`, one per size, reused once the copy that read it has completed: `PinnedPool`) and
uploaded with `non_blocking=True`; channel order, row flip, alpha split and the resize to the processing
size run on the device. Back: the resize to the client's size, channel order, alpha and row flip run on
the device, into one contiguous (H, W, bpp) uint8 tensor, downloaded with `non_blocking=True` into a
pinned buffer; `PendingPixels.result()` waits for the CUDA event recorded after that copy and returns a
contiguous array of its own. The host's share is then two memcpys and the kernel launches, whatever the
client's size. The CUDA-only calls (pinned memory, events) are not run on a GPU here: the tests run the
same staged code on the CPU (`DevicePixels(cpu, staged=True)`, pinning and events off).

On the CPU (not staged) the layout conversion is runtime/pixels.py's (`to_pipeline` / `from_pipeline` at the
client's size), so without a resize the bytes are the same as before this module existed, in every layout;
a resize runs through torch (`resize_rgb_tensor`), not PIL: a 1920x1080 frame costs about 1.3 ms down to
512x512 and 1.8 ms back instead of PIL's 10 and 16 (one thread of this CPU).

Resizing: runtime/pixels.py resizes with PIL's bilinear filter (fixed-point, two passes rounded to 8 bits
in between). `resize_rgb_tensor` uses `torch.nn.functional.interpolate(mode="bilinear", antialias=True)`:
on the CPU on the uint8 pixels themselves (torch's kernel written to match PIL: about 0.1% of the bytes
differ, by 1, from 1920x1080 to 512x512), elsewhere in float32 rounded once (about 13% differ, by 1). Neither
is bit-identical to PIL; tests/runtime/test_device_pixels.py bounds both at 1. Without a resize (client size
== processing size) every path is bit-identical to runtime/pixels.py.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.nn import functional

from sdbridge.pipeline.images import PinnedPool, record_event
from sdbridge.runtime.frame_book import fit_alpha
from sdbridge.runtime.pixels import Layout, PixelFormat, RowOrder, check_layout, from_pipeline, to_pipeline


@dataclass
class PendingPixels:
    """A download in flight: `result()` waits for it (a CUDA event) and returns the client's packed pixels."""

    host: torch.Tensor | np.ndarray  # the staging buffer, or the finished array (CPU)
    shape: tuple[int, ...]  # (H, W, bpp); (n,) for the joined buffer of a merged download
    event: Any = None  # torch.cuda.Event recorded after the copy, or None
    keep: tuple[Any, ...] = ()  # device tensors the copy reads, alive until it completed
    pool: PinnedPool | None = None
    _value: np.ndarray | None = field(default=None, repr=False)

    def ready(self) -> bool:
        """True once `result()` would not wait."""
        return self._value is not None or self.event is None or bool(self.event.query())

    def result(self) -> np.ndarray:
        """The (H, W, bpp) uint8 C-contiguous pixels, an array of their own (the staging buffer is reused)."""
        if self._value is None:
            if self.event is not None:
                self.event.synchronize()
            if isinstance(self.host, np.ndarray):
                self._value = self.host
            else:
                self._value = self.host.numpy().reshape(self.shape).copy()
                if self.pool is not None:
                    self.pool.release(self.host, None)
            self.keep = ()
        return self._value


@dataclass
class PendingSlice:
    """One frame's part of a merged download (`DevicePixels.download_many`): `result()` waits for the whole copy
    once and returns this frame's (H, W, bpp) pixels, a C-contiguous view of the copy's own array."""

    joined: PendingPixels
    start: int
    shape: tuple[int, int, int]

    def ready(self) -> bool:
        """True once `result()` would not wait."""
        return self.joined.ready()

    def result(self) -> np.ndarray:
        """This frame's packed pixels."""
        count = self.shape[0] * self.shape[1] * self.shape[2]
        return self.joined.result()[self.start:self.start + count].reshape(self.shape)


class DevicePixels:
    """Client frames to a pipeline's (h, w, 3) uint8 input on `device`, and its outputs back (module docstring).

    `staged` (default: the device is CUDA) selects the device-side path; staged on the CPU it runs the
    same torch code without pinning or events (tests). One instance per device: one thread uploads (the
    worker's), one downloads (its device lane); they share only the thread-safe PinnedPool.
    """

    def __init__(self, device: torch.device | str = "cpu", staged: bool | None = None) -> None:
        self.device = torch.device(device)
        self._cuda = self.device.type == "cuda"
        self.staged = self._cuda if staged is None else staged
        self.pool = PinnedPool(pin=self._cuda)

    def upload(self, payload: memoryview | bytes, layout: Layout, size: tuple[int, int]
               ) -> tuple[np.ndarray | torch.Tensor, np.ndarray | torch.Tensor | None]:
        """(rgb, alpha) of a wire frame: rgb (size[1], size[0], 3) uint8 RGB top-down, alpha the client-size
        (H, W) alpha plane (None for RGB8); both on the device when staged, numpy otherwise."""
        if not self.staged:  # runtime/pixels.py at the client's size, then the resize (if any) with torch
            rgb, alpha = to_pipeline(payload, layout, (layout.width, layout.height))
            return _resized(rgb, size[0], size[1]), alpha
        check_layout(layout, len(payload))
        staging = self.pool.take(layout.expected_bytes)
        staging.numpy()[:] = np.frombuffer(payload, dtype=np.uint8)  # the host's one pass over the frame
        raw = staging.to(self.device, non_blocking=True, copy=True)  # copy: staged on the CPU too
        self.pool.release(staging, record_event(self.device))
        return wire_to_rgb(raw, layout, size)

    def download(self, image: np.ndarray | torch.Tensor, alpha: np.ndarray | torch.Tensor | None,
                 layout: Layout) -> PendingPixels:
        """Start converting a pipeline output (h, w, 3) uint8 RGB top-down (numpy, or a tensor on the device)
        to `layout` (packed: stride = width * bpp); alpha as from `upload`, None: 255."""
        shape = (layout.height, layout.width, layout.pixel_format.bytes_per_pixel)
        if not self.staged or isinstance(image, np.ndarray):
            rgb = _resized(_host(image), layout.width, layout.height)
            return PendingPixels(from_pipeline(rgb, None if alpha is None else _host(alpha), layout), shape)
        packed, keep = self._packed(image, alpha, layout)
        staging = self.pool.take(packed.numel())
        staging.copy_(packed.view(-1), non_blocking=True)
        return PendingPixels(staging, shape, record_event(self.device), keep, self.pool)

    def download_many(self, frames: Sequence[tuple[np.ndarray | torch.Tensor, np.ndarray | torch.Tensor | None,
                                                   Layout]]) -> list[PendingPixels | PendingSlice]:
        """`download` for several outputs (a shared batch's): staged, they are packed on the device into one
        buffer that comes down in ONE device->host copy (one event, one staging buffer) and each frame gets its
        slice; unstaged, or with a numpy image, each is converted as `download` does."""
        if not self.staged or len(frames) < 2 or any(isinstance(image, np.ndarray) for image, _, _ in frames):
            return [self.download(image, alpha, layout) for image, alpha, layout in frames]
        packed, keep = zip(*(self._packed(image, alpha, layout) for image, alpha, layout in frames), strict=True)
        joined = torch.cat([p.view(-1) for p in packed])  # on the device: one buffer for the one copy
        staging = self.pool.take(joined.numel())
        staging.copy_(joined, non_blocking=True)
        pending = PendingPixels(staging, (joined.numel(),), record_event(self.device), (joined, *keep), self.pool)
        slices: list[PendingPixels | PendingSlice] = []
        start = 0
        for p in packed:
            slices.append(PendingSlice(pending, start, (p.shape[0], p.shape[1], p.shape[2])))
            start += p.numel()
        return slices

    def _packed(self, image: torch.Tensor, alpha: np.ndarray | torch.Tensor | None, layout: Layout
                ) -> tuple[torch.Tensor, tuple[Any, ...]]:
        """The output in the client's packed layout on the device (H, W, bpp), and what the copy must keep alive."""
        device_alpha = None if alpha is None else torch.as_tensor(alpha).to(self.device, non_blocking=True)
        packed = rgb_to_wire(image.to(self.device), device_alpha, layout)  # (H, W, bpp) contiguous
        return packed, (packed, image, device_alpha)


_CONVERTERS: dict[torch.device, DevicePixels] = {}
_CONVERTERS_LOCK = threading.Lock()


def converter_on(device: torch.device) -> DevicePixels:
    """The DevicePixels of `device` (one per device: the worker thread uploads, its device lane downloads)."""
    with _CONVERTERS_LOCK:
        found = _CONVERTERS.get(device)
        if found is None:
            found = _CONVERTERS[device] = DevicePixels(device)
        return found


def device_pixels_for(pipeline: Any) -> DevicePixels | None:
    """The converter of a pipeline whose class declares `image_on_device` (StreamPipeline), which it switches on;
    None for any other (the identity model, a recording wrapper: it forwards attributes but records numpy, so
    its class is asked, not the instance), which keeps runtime/pixels.py's numpy conversion."""
    if getattr(type(pipeline), "image_on_device", None) is None:
        return None
    pipeline.image_on_device = True
    device = getattr(getattr(pipeline, "components", None), "device", None)
    return converter_on(torch.device(device if device is not None else "cpu"))


def to_client(image: np.ndarray | torch.Tensor, alpha: np.ndarray | torch.Tensor | None, layout: Layout
              ) -> np.ndarray:
    """A pipeline output (h, w, 3) uint8 (numpy, or a tensor on its device) in the client's packed `layout`,
    with `alpha` (numpy or on the device; resized by fit_alpha when it has another size, None: 255)."""
    if alpha is not None and tuple(alpha.shape) != (layout.height, layout.width):
        alpha = fit_alpha(_host(alpha), layout.width, layout.height)
    if isinstance(image, np.ndarray):
        return from_pipeline(image, None if alpha is None else _host(alpha), layout)
    return converter_on(image.device).download(image, alpha, layout).result()


def stage_downloads(frames: Sequence[tuple[Any, np.ndarray | torch.Tensor | None, Layout]]
                    ) -> list[PendingPixels | PendingSlice | None]:
    """Start the downloads of pipeline outputs (image, alpha, packed client layout) that are tensors on a staged
    device (CUDA): one device->host copy per device for all of them (DevicePixels.download_many), alpha fitted as
    `to_client` does; None for the others (numpy images, the unstaged CPU: `to_client` converts them later)."""
    started: list[PendingPixels | PendingSlice | None] = [None] * len(frames)
    by_device: dict[torch.device, list[int]] = {}
    for i, (image, _, _) in enumerate(frames):
        if isinstance(image, torch.Tensor) and converter_on(image.device).staged:
            by_device.setdefault(image.device, []).append(i)
    for device, indices in by_device.items():
        todo = []
        for i in indices:
            image, alpha, layout = frames[i]
            if alpha is not None and tuple(alpha.shape) != (layout.height, layout.width):
                alpha = fit_alpha(_host(alpha), layout.width, layout.height)
            todo.append((image, alpha, layout))
        for i, pending in zip(indices, converter_on(device).download_many(todo), strict=True):
            started[i] = pending
    return started


def _host(array: np.ndarray | torch.Tensor) -> np.ndarray:
    return array.cpu().numpy() if isinstance(array, torch.Tensor) else array


def _resized(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """A host (h, w, 3) uint8 image at (height, width) through resize_rgb_tensor (itself when the size matches)."""
    if rgb.shape[0] == height and rgb.shape[1] == width:
        return rgb
    return resize_rgb_tensor(torch.from_numpy(np.ascontiguousarray(rgb)), width, height).numpy()


def wire_to_rgb(raw: torch.Tensor, layout: Layout, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Device-side `to_pipeline`: raw (stride * height,) uint8 wire bytes on any device -> (rgb (h, w, 3),
    alpha (H, W) or None), both contiguous on raw's device. Bit-identical to to_pipeline when size is the
    client's size; resized within 1 of it (module docstring)."""
    bpp = layout.pixel_format.bytes_per_pixel
    pixels = raw.view(layout.height, layout.stride)[:, : layout.width * bpp].view(layout.height, layout.width, bpp)
    if layout.row_order is RowOrder.BOTTOM_UP:
        pixels = pixels.flip(0)  # (H, W, bpp), a copy
    alpha = pixels[..., 3].contiguous() if bpp == 4 else None
    rgb = pixels[..., :3]
    if layout.pixel_format is PixelFormat.BGRA8:
        rgb = rgb.flip(-1)
    return resize_rgb_tensor(rgb, size[0], size[1]), alpha


def rgb_to_wire(rgb: torch.Tensor, alpha: torch.Tensor | None, layout: Layout) -> torch.Tensor:
    """Device-side `from_pipeline`: (h, w, 3) uint8 RGB top-down (or (1, h, w, 3)) -> the client's packed
    (H, W, bpp) uint8, contiguous on rgb's device; alpha (H, W) or None (255)."""
    if rgb.ndim == 4 and rgb.shape[0] == 1:
        rgb = rgb[0]
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != torch.uint8:
        from sdbridge.errors import InputError

        raise InputError(f"pipeline output has shape {tuple(rgb.shape)} dtype {rgb.dtype}; expected HxWx3 uint8")
    rgb = resize_rgb_tensor(rgb, layout.width, layout.height)  # (H, W, 3)
    fmt = layout.pixel_format
    if fmt is PixelFormat.RGB8:
        out = rgb if rgb.is_contiguous() else rgb.contiguous()
    else:
        out = torch.empty((layout.height, layout.width, 4), dtype=torch.uint8, device=rgb.device)
        out[..., :3] = rgb.flip(-1) if fmt is PixelFormat.BGRA8 else rgb
        if alpha is None:
            out[..., 3] = 255
        else:
            out[..., 3] = alpha
    return out.flip(0) if layout.row_order is RowOrder.BOTTOM_UP else out


def resize_rgb_tensor(image: torch.Tensor, width: int, height: int, uint8_kernel: bool | None = None
                      ) -> torch.Tensor:
    """(h, w, C) uint8 -> contiguous (height, width, C) uint8, bilinear with antialiasing (PIL's filter): within 1
    of PIL's bytes (module docstring); a contiguous copy-free pass-through when the size matches.

    `uint8_kernel` (default: on the CPU) resizes the uint8 pixels themselves, channels last (torch's CPU kernel
    made to match PIL: about 0.1% of the bytes differ, by 1); otherwise in float32, rounded once (CUDA has no
    uint8 kernel: not run on a GPU here)."""
    if image.shape[0] == height and image.shape[1] == width:
        return image if image.is_contiguous() else image.contiguous()
    # (1, C, h, w), channels last when image is contiguous; unsqueezed first, so the batch stride is h*w*C and
    # interpolate keeps the layout (a batch stride of C made it answer in NCHW, then a 10 ms transpose at 1080p)
    planes = image.unsqueeze(0).permute(0, 3, 1, 2)
    if uint8_kernel is None:
        uint8_kernel = image.device.type == "cpu"
    if uint8_kernel:
        planes = planes.contiguous(memory_format=torch.channels_last)
        out = functional.interpolate(planes, size=(height, width), mode="bilinear", align_corners=False,
                                     antialias=True)
    else:
        out = functional.interpolate(planes.float(), size=(height, width), mode="bilinear", align_corners=False,
                                     antialias=True)
        out = out.round_().clamp_(0, 255).to(torch.uint8)  # (1, C, height, width)
    return out[0].permute(1, 2, 0).contiguous()
