"""Apple MPS has no float64: the similarity filter and the blends (prompt embeddings, seed noises) create none.

Run on the CPU: every torch call is watched (TorchFunctionMode) and any float64 tensor it returns, or any
float64 dtype it is asked for, is recorded. The watcher itself is checked to catch a float64 conversion.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
from torch.overrides import TorchFunctionMode

from sdbridge.pipeline.blending import blend, slerp
from sdbridge.pipeline.config import Interpolation
from sdbridge.pipeline.similarity import SimilarityFilter

MPS_ILLEGAL = (torch.float64, torch.complex128)


class _Float64Watch(TorchFunctionMode):
    """Records the torch functions that return, or are asked for, a dtype MPS does not support."""

    def __init__(self) -> None:
        super().__init__()
        self.offenders: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        asked = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.dtype) and a in MPS_ILLEGAL]
        result = func(*args, **kwargs)
        outputs = result if isinstance(result, tuple | list) else (result,)
        made = [t for t in outputs if isinstance(t, torch.Tensor) and t.dtype in MPS_ILLEGAL]
        if asked or made:
            self.offenders.append(getattr(func, "__name__", repr(func)))
        return result


@contextmanager
def watch() -> Iterator[_Float64Watch]:
    mode = _Float64Watch()
    with mode:
        yield mode


def test_the_watch_catches_a_float64_conversion() -> None:
    with watch() as w:
        torch.ones(3).to(torch.float64)
    assert w.offenders, "the watcher must see a float64 conversion, or the tests below prove nothing"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_similarity_filter_uses_no_float64(dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(0)
    frame = torch.rand(3, 64, 64, generator=gen).to(dtype)
    near = (frame + 0.001 * torch.rand(3, 64, 64, generator=gen).to(dtype)).to(dtype)
    filt = SimilarityFilter(threshold=0.98, max_skip_frames=10, seed=0)
    with watch() as w:  # a tensor input takes the device path: decided a frame late, from the last cosine
        filt.late(frame)
        filt.late(near)
        decision = filt.late(near)
    assert w.offenders == []
    assert decision.similarity > 0.99  # still the cosine of two nearly equal frames


@pytest.mark.parametrize("interpolation", list(Interpolation))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_blends_use_no_float64_and_keep_the_dtype(interpolation: Interpolation, dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(1)
    tensors = [torch.randn(1, 77, 32, generator=gen).to(dtype) for _ in range(3)]
    with watch() as w:
        out = blend(tensors, [0.5, 0.3, 0.2], interpolation, dim=-1, preserve_variance=True)
        mid = slerp(tensors[0], tensors[1], 0.5)
    assert w.offenders == []
    assert out.dtype is dtype and mid.dtype is dtype
    assert torch.isfinite(out.float()).all()


def test_slerp_in_float32_matches_a_float64_reference() -> None:
    gen = torch.Generator().manual_seed(2)
    a, b = torch.randn(4, 64, generator=gen), torch.randn(4, 64, generator=gen)
    a64, b64 = a.double(), b.double()
    theta = torch.arccos((a64 / a64.norm(dim=-1, keepdim=True) * b64 / b64.norm(dim=-1, keepdim=True)).sum(-1, True))
    ref = (torch.sin(0.7 * theta) * a64 + torch.sin(0.3 * theta) * b64) / torch.sin(theta)
    torch.testing.assert_close(slerp(a, b, 0.3), ref.float(), atol=1e-5, rtol=1e-5)
