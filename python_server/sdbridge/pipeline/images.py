"""Frame <-> tensor conversion with input checks that name the value, the limit and the fix."""

from __future__ import annotations

import numpy as np
import torch

from sdbridge.errors import InputError


def to_model_tensor(
    image: np.ndarray | torch.Tensor, width: int, height: int, frames: int,
    device: torch.device, dtype: torch.dtype,
) -> torch.Tensor:
    """Frames as a (frames, 3, H, W) tensor in [-1, 1] on `device`.

    Accepts uint8 HxWx3 (or frames x H x W x 3) as numpy or torch, or a float torch tensor 3xHxW
    (or frames x 3 x H x W) in [0, 1].
    """
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise InputError(f"image dtype is {image.dtype}; expected uint8 RGB (use (x * 255).astype(np.uint8))")
        tensor = torch.from_numpy(np.ascontiguousarray(image))
    elif isinstance(image, torch.Tensor):
        tensor = image
    else:
        raise InputError(f"image is a {type(image).__name__}; expected a numpy array or a torch tensor")
    if tensor.dtype == torch.uint8:
        if tensor.ndim == 3:
            tensor = tensor.unsqueeze(0)
        _check_shape(tuple(tensor.shape), (frames, height, width, 3), "frames x H x W x 3 uint8", width, height)
        out = tensor.to(device).permute(0, 3, 1, 2).to(dtype) / 127.5 - 1.0  # (B, 3, H, W)
    elif tensor.is_floating_point():
        if tensor.ndim == 3:
            tensor = tensor.unsqueeze(0)
        layout = "frames x 3 x H x W float in [0, 1]"
        _check_shape(tuple(tensor.shape), (frames, 3, height, width), layout, width, height)
        out = tensor.to(device=device, dtype=dtype) * 2.0 - 1.0
    else:
        raise InputError(f"image tensor dtype is {tensor.dtype}; expected torch.uint8 (HxWx3) or float (3xHxW)")
    return out.contiguous()


def _check_shape(got: tuple[int, ...], want: tuple[int, ...], layout: str, width: int, height: int) -> None:
    if len(got) != len(want):
        raise InputError(f"image shape {got} has {len(got)} dims; expected {want} ({layout})")
    if got != want:
        raise InputError(
            f"image shape {got} does not match the pipeline's {want} ({layout}); resize frames to "
            f"{width}x{height} (WxH) or build the pipeline with StreamConfig(width=..., height=...) "
            "matching your frames"
        )


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> uint8 (B, H, W, 3), or (H, W, 3) when B == 1."""
    out = ((images.float().clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)
    array = out.permute(0, 2, 3, 1).cpu().numpy()
    return array[0] if array.shape[0] == 1 else array
