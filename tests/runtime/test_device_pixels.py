"""Pixels on the device (runtime.device_pixels, pipeline.images) against runtime/pixels.py's conversion.

The staged (CUDA) path runs here on the CPU with pinning and events off: the same torch code. Without a
resize it is bit-identical to to_pipeline / from_pipeline in every format, row order and stride padding;
resized it is within 1 of PIL's bytes (the module docstring says so). The unstaged CPU path is
runtime/pixels.py's own at the client's size (resized by torch, within 1), and the model-tensor conversions
give the values of the plain formulas.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sdbridge.errors import InputError
from sdbridge.pipeline.images import PinnedPool, to_model_tensor, to_uint8, to_uint8_tensor
from sdbridge.runtime.device_pixels import DevicePixels, PendingPixels, resize_rgb_tensor
from sdbridge.runtime.pixels import Layout, PixelFormat, RowOrder, from_pipeline, resize_rgb, to_pipeline

CPU = torch.device("cpu")
SIZES = [((13, 9), (13, 9)), ((13, 9), (8, 16)), ((40, 24), (16, 8))]  # (client WxH, processing WxH)


def _wire(width: int, height: int, fmt: PixelFormat, order: RowOrder, padding: int, seed: int = 0
          ) -> tuple[bytes, Layout]:
    """Random wire bytes (padding bytes of garbage after every row) and their layout."""
    rng = np.random.default_rng(seed)
    stride = width * fmt.bytes_per_pixel + padding
    layout = Layout(width, height, stride, fmt, order)
    return rng.integers(0, 256, size=layout.expected_bytes, dtype=np.uint8).tobytes(), layout


def _cases():
    for fmt in PixelFormat:
        for order in RowOrder:
            for padding in (0, 3, 8):
                for client, processing in SIZES:
                    yield pytest.param(fmt, order, padding, client, processing,
                                       id=f"{fmt.value}-{order.value}-pad{padding}-{client}-to-{processing}")


@pytest.mark.parametrize(("fmt", "order", "padding", "client", "processing"), list(_cases()))
def test_staged_upload_matches_to_pipeline(fmt, order, padding, client, processing):
    payload, layout = _wire(*client, fmt, order, padding)
    want_rgb, want_alpha = to_pipeline(payload, layout, processing)
    rgb, alpha = DevicePixels(CPU, staged=True).upload(payload, layout, processing)
    assert isinstance(rgb, torch.Tensor) and rgb.is_contiguous() and rgb.shape == want_rgb.shape
    if want_alpha is None:
        assert alpha is None
    else:
        np.testing.assert_array_equal(np.asarray(alpha), want_alpha)
    diff = np.abs(rgb.numpy().astype(int) - want_rgb)
    if client == processing:
        assert diff.max() == 0  # bit-identical without a resize
    else:
        assert diff.max() <= 1  # interpolate(antialias=True) vs PIL: at most 1 (of 255)
    # the model tensor built from either is then the same (bit-identical when not resized)
    ours = to_model_tensor(rgb, *processing, 1, CPU, torch.float32)
    theirs = to_model_tensor(want_rgb, *processing, 1, CPU, torch.float32)
    assert torch.equal(ours, theirs) == (diff.max() == 0)


@pytest.mark.parametrize(("fmt", "order", "padding", "client", "processing"), list(_cases()))
def test_staged_download_matches_from_pipeline(fmt, order, padding, client, processing):
    del padding  # results are always packed
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(processing[1], processing[0], 3), dtype=np.uint8)
    alpha = None if fmt is PixelFormat.RGB8 else rng.integers(0, 256, size=(client[1], client[0]), dtype=np.uint8)
    layout = Layout.packed(*client, fmt, order)
    want = from_pipeline(rgb, alpha, layout)
    pending = DevicePixels(CPU, staged=True).download(torch.from_numpy(rgb), alpha, layout)
    got = pending.result()
    assert got.flags.c_contiguous and got.shape == want.shape and got.dtype == np.uint8
    diff = np.abs(got.astype(int) - want)
    assert diff.max() == 0 if client == processing else diff.max() <= 1
    if alpha is not None:  # alpha never goes through the resize
        np.testing.assert_array_equal(got[..., 3], want[..., 3])


@pytest.mark.parametrize(("fmt", "order", "padding", "client", "processing"), list(_cases()))
def test_cpu_path_is_runtime_pixels(fmt, order, padding, client, processing):
    """Unstaged (the CPU): the bytes of to_pipeline / from_pipeline at the client's size; resized by torch's
    uint8 kernel instead of PIL, within 1 of them."""
    payload, layout = _wire(*client, fmt, order, padding, seed=2)
    pixels = DevicePixels(CPU)
    assert not pixels.staged
    rgb, alpha = pixels.upload(payload, layout, processing)
    want_rgb, want_alpha = to_pipeline(payload, layout, processing)
    assert isinstance(rgb, np.ndarray) and rgb.flags.c_contiguous and rgb.shape == want_rgb.shape
    bound = 0 if client == processing else 1
    assert np.abs(rgb.astype(int) - want_rgb).max() <= bound
    np.testing.assert_array_equal(alpha, want_alpha)  # type: ignore[arg-type]
    packed = Layout.packed(*client, fmt, order)
    out = pixels.download(torch.from_numpy(np.asarray(rgb)), alpha, packed).result()  # a tensor output too
    want = from_pipeline(np.asarray(rgb), want_alpha, packed)
    assert out.flags.c_contiguous and np.abs(out.astype(int) - want).max() <= bound
    if want_alpha is not None:
        np.testing.assert_array_equal(out[..., 3], want[..., 3])  # alpha never goes through the resize


@pytest.mark.parametrize("uint8_kernel", [True, False], ids=["uint8-kernel", "float32-cuda-kernel"])
def test_resize_from_1080p_is_within_one_of_pil(uint8_kernel):
    """The case the server meets most: a 1920x1080 frame to 512x512 and back, by both kernels."""
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, size=(1080, 1920, 3), dtype=np.uint8)
    down = resize_rgb_tensor(torch.from_numpy(frame), 512, 512, uint8_kernel).numpy()
    pil_down = resize_rgb(frame, 512, 512)
    assert down.flags.c_contiguous and np.abs(down.astype(int) - pil_down).max() <= 1
    up = resize_rgb_tensor(torch.from_numpy(pil_down), 1920, 1080, uint8_kernel).numpy()
    assert up.flags.c_contiguous and np.abs(up.astype(int) - resize_rgb(pil_down, 1920, 1080)).max() <= 1
    assert (down != pil_down).any()  # not bit-identical: the docstring must keep saying so


def test_staged_upload_owns_its_pixels():
    """The staging buffer is reused by the next frame: an earlier frame's input must not change with it."""
    pixels = DevicePixels(CPU, staged=True)
    first, layout = _wire(8, 8, PixelFormat.RGB8, RowOrder.TOP_DOWN, 0, seed=4)
    second, _ = _wire(8, 8, PixelFormat.RGB8, RowOrder.TOP_DOWN, 0, seed=5)
    rgb, _ = pixels.upload(first, layout, (8, 8))
    kept = rgb.clone()
    pixels.upload(second, layout, (8, 8))
    assert pixels.pool.allocated == 1  # the second frame reused the staging buffer
    assert torch.equal(rgb, kept)


def test_staged_checks_the_layout_and_the_output():
    pixels = DevicePixels(CPU, staged=True)
    with pytest.raises(InputError, match=r"63 bytes.*64"):
        pixels.upload(b"\0" * 63, Layout.packed(4, 4, PixelFormat.RGBA8), (4, 4))
    with pytest.raises(InputError, match="expected HxWx3 uint8"):
        pixels.download(torch.zeros((4, 4, 4), dtype=torch.uint8), None, Layout.packed(4, 4, PixelFormat.RGBA8))


class _Event:
    """A stand-in for torch.cuda.Event: completes when told to."""

    def __init__(self, done: bool = False) -> None:
        self.done = done
        self.waited = False

    def query(self) -> bool:
        return self.done

    def synchronize(self) -> None:
        self.waited = True
        self.done = True


def test_pinned_pool_reuses_a_buffer_only_after_its_copy_completed():
    pool = PinnedPool(pin=False)
    a = pool.take(16)
    event = _Event()
    pool.release(a, event)
    b = pool.take(16)  # a's copy is still running: a new buffer
    assert b.data_ptr() != a.data_ptr() and pool.allocated == 2
    pool.release(b, None)
    event.done = True
    taken = {pool.take(16).data_ptr(), pool.take(16).data_ptr()}
    assert taken == {a.data_ptr(), b.data_ptr()} and pool.allocated == 2
    assert pool.take(32).numel() == 32 and pool.allocated == 3  # another size: its own buffer


def test_pinned_pool_waits_before_dropping_a_buffer_in_use():
    pool = PinnedPool(pin=False)
    events = [_Event() for _ in range(3)]
    buffers = [pool.take(8) for _ in events]
    pool.release(buffers[0], events[0])
    pool.release(buffers[1], events[1])
    assert not any(e.waited for e in events)  # two spares are kept without waiting
    pool.release(buffers[2], events[2])  # a third: the oldest is dropped, once its copy completed
    assert events[0].waited and not events[1].waited and not events[2].waited


def test_pending_pixels_waits_for_its_event_then_frees_the_staging_buffer():
    pool = PinnedPool(pin=False)
    staging = pool.take(12)
    staging.copy_(torch.arange(12, dtype=torch.uint8))
    event = _Event()
    pending = PendingPixels(staging, (2, 2, 3), event, (), pool)
    assert not pending.ready()
    out = pending.result()
    assert event.waited and pending.ready()
    np.testing.assert_array_equal(out, np.arange(12, dtype=np.uint8).reshape(2, 2, 3))
    staging.zero_()  # reused by the next download: the result is an array of its own
    assert out.sum() == sum(range(12))
    assert pool.take(12).data_ptr() == staging.data_ptr() and pool.allocated == 1


def _old_model_tensor(image: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """to_model_tensor before this change: the reference values."""
    return (torch.from_numpy(image).unsqueeze(0).permute(0, 3, 1, 2).to(dtype) / 127.5 - 1.0).contiguous()


def _old_uint8(images: torch.Tensor) -> np.ndarray:
    """to_uint8 before this change: the reference values."""
    out = ((images.float().clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)
    return out.permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_model_tensor_values_are_the_plain_formula(dtype, memory_format):
    frame = np.random.default_rng(6).integers(0, 256, size=(16, 24, 3), dtype=np.uint8)
    frame[0, :3] = [[0, 128, 255]] * 3  # the ends and the middle
    got = to_model_tensor(frame, 24, 16, 1, CPU, dtype, memory_format)
    assert got.dtype == dtype and got.is_contiguous(memory_format=memory_format)
    assert torch.equal(got, _old_model_tensor(frame, dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_uint8_values_are_the_plain_formula_and_contiguous(dtype, memory_format):
    images = (torch.randn(2, 3, 8, 12, generator=torch.Generator().manual_seed(7)) * 1.3).to(dtype)
    images = images.contiguous(memory_format=memory_format)
    before = images.clone()
    got = to_uint8(images)
    assert torch.equal(images, before)  # the model's output is left as it was
    assert got.flags.c_contiguous and got.shape == (2, 8, 12, 3)
    np.testing.assert_array_equal(got, _old_uint8(images))
    tensor = to_uint8_tensor(images)
    assert tensor.is_contiguous() and torch.equal(tensor, torch.from_numpy(got))
    single = to_uint8(images[:1])
    assert single.shape == (8, 12, 3) and single.flags.c_contiguous


def test_staged_copies_wait_for_their_events(monkeypatch):
    """With the CUDA events faked: a staging buffer whose upload is still running is not reused, and a
    download's result waits for its event."""
    from sdbridge.runtime import device_pixels

    events: list[_Event] = []

    def record(device):
        events.append(_Event())
        return events[-1]

    monkeypatch.setattr(device_pixels, "record_event", record)
    pixels = DevicePixels(CPU, staged=True)
    payload, layout = _wire(8, 4, PixelFormat.RGBA8, RowOrder.TOP_DOWN, 0, seed=8)
    pixels.upload(payload, layout, (8, 4))
    pixels.upload(payload, layout, (8, 4))  # the first copy has not completed: a second buffer
    assert pixels.pool.allocated == 2
    events[0].done = True
    pixels.upload(payload, layout, (8, 4))  # now the first buffer serves again
    assert pixels.pool.allocated == 2
    rgb, alpha = to_pipeline(payload, layout, (8, 4))
    pending = pixels.download(torch.from_numpy(rgb), alpha, Layout.packed(8, 4, PixelFormat.RGBA8))
    assert not pending.ready() and not events[-1].waited
    np.testing.assert_array_equal(pending.result(), np.frombuffer(payload, np.uint8).reshape(4, 8, 4))
    assert events[-1].waited
