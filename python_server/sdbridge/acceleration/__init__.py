"""Acceleration backends: torch eager (default), torch.compile, ONNX Runtime and native TensorRT.

A backend never changes StreamPipeline. It replaces the components' `unet` and `vae` with adapters of the
same call signature and return types (see adapters.py), backed by three runners built from the same three
export modules (export_modules.py): UNet, VAE encoder, VAE decoder.

    from sdbridge.acceleration import AccelOptions, BackendChoice, accelerate
    fast = accelerate(components, AccelOptions(BackendChoice.ONNXRUNTIME))
    pipe = StreamPipeline(fast, config)

Built engines live in `engines/` under an engine key (engine_cache.py); builds are atomic. With
`background=True` the components start on torch and switch when the engine is ready (builder.py).
Nothing here is imported by sdbridge.pipeline; importing this package imports neither onnx nor tensorrt.
"""

from __future__ import annotations

from sdbridge.acceleration.base import AccelOptions, BackendChoice, ShapeRange
from sdbridge.acceleration.factory import AccelHandle, accelerate, accelerate_with_handle, check_available

__all__ = [
    "AccelHandle", "AccelOptions", "BackendChoice", "ShapeRange", "accelerate", "accelerate_with_handle",
    "check_available",
]
