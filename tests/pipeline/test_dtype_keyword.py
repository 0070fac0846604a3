"""Folder loading passes each library the dtype argument it expects: `dtype` to transformers 5 (whose `torch_dtype`
is deprecated and warns), `torch_dtype` to diffusers and to transformers 4."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import transformers
from diffusers import UNet2DConditionModel

from sdbridge.pipeline import load_components
from tests.pipeline.test_loading import save_diffusers_folder


def test_each_library_gets_its_own_dtype_argument(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = save_diffusers_folder("tiny", tmp_path / "model")
    seen: dict[str, set[str]] = {}

    def recording(cls: type) -> None:
        original = cls.from_pretrained.__func__  # type: ignore[attr-defined]

        def from_pretrained(klass: type, *args: Any, **kwargs: Any) -> object:
            seen.setdefault(klass.__name__, set()).update(k for k in ("dtype", "torch_dtype") if k in kwargs)
            return original(klass, *args, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", classmethod(from_pretrained))

    recording(transformers.CLIPTextModel)
    recording(UNet2DConditionModel)
    comps = load_components(str(folder), dtype=torch.bfloat16, vae="full", local_files_only=True)
    assert comps.text_encoder.dtype == torch.bfloat16 and comps.unet.dtype == torch.bfloat16
    major = int(transformers.__version__.split(".")[0])
    assert seen == {"CLIPTextModel": {"dtype" if major >= 5 else "torch_dtype"},
                    "UNet2DConditionModel": {"torch_dtype"}}
