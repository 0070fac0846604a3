"""ONNX Runtime (and TensorRT) with an IP-Adapter: refused with an error naming why, both ways round. The exported
engine graph takes (sample, timestep, encoder_hidden_states[, text_embeds, time_ids]) and has no image_embeds input
for the adapter's image projection and image cross-attention; before this check, exporting a UNet that carries an
adapter failed inside the ONNX export with "TypeError: argument of type 'NoneType' is not iterable"."""

from __future__ import annotations

import pytest
import torch

from sdbridge.errors import ConfigError
from sdbridge.pipeline.components import load_components
from sdbridge.pipeline.ip_adapter_tiny import tiny_ip_adapter


@pytest.mark.parametrize("backend", ["onnxruntime", "tensorrt"])
def test_accelerating_a_unet_that_carries_an_adapter_is_refused(tmp_path, backend):
    from sdbridge.acceleration import AccelOptions, BackendChoice, accelerate

    comps = load_components("tiny", device="cpu", dtype=torch.float32)
    tiny_ip_adapter(comps, seed=1)
    with pytest.raises(ConfigError, match=rf"--accel {backend}: the UNet carries an IP-Adapter, whose image "
                                          r"projection and image cross-attention need image_embeds, an input the "
                                          r"exported engine graph does not have; use --accel eager"):
        accelerate(comps, AccelOptions(BackendChoice(backend), engines_dir=tmp_path, progress=False))
    assert not list(tmp_path.iterdir())  # refused before any export


def test_an_adapter_on_onnx_runtime_components_is_refused(tmp_path, tiny):
    pytest.importorskip("onnxruntime", reason="the [onnx] extra (onnx, onnxruntime) is not installed")
    pytest.importorskip("onnx", reason="the [onnx] extra (onnx, onnxruntime) is not installed")
    from sdbridge.acceleration import AccelOptions, BackendChoice, accelerate

    ort = accelerate(tiny, AccelOptions(BackendChoice.ONNXRUNTIME, engines_dir=tmp_path, threads=2, progress=False))
    assert ort.unet is not tiny.unet  # able to fail: the components really run on ONNX Runtime
    with pytest.raises(ConfigError, match=r"IP-Adapter: the UNet is an accelerated engine \(UnetAdapter\) without "
                                          r"the adapter's image projection .* use the eager, compile backend"):
        tiny_ip_adapter(ort, seed=1)
