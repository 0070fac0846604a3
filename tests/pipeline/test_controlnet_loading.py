"""ControlNet specs (`KIND=SOURCE[@SCALE]`) and loading (sdbridge.pipeline.controlnet_loading)."""

from __future__ import annotations

import pytest

from sdbridge.errors import ConfigError, ModelNotFoundError
from sdbridge.pipeline.controlnet import tiny_controlnet
from sdbridge.pipeline.controlnet_loading import ControlNetSpec, check_family, load_controlnets, parse_spec, parse_specs


def test_specs_parse_kind_source_and_scale():
    assert parse_spec("depth=lllyasviel/control_v11f1p_sd15_depth@0.8") == ControlNetSpec(
        "depth", "lllyasviel/control_v11f1p_sd15_depth", 0.8)
    assert parse_spec("canny=tiny") == ControlNetSpec("canny", "tiny", 1.0)
    assert parse_spec("seg=/models/with@sign/seg") == ControlNetSpec("seg", "/models/with@sign/seg", 1.0)
    with pytest.raises(ConfigError, match=r"--controlnet='depth': expected KIND=SOURCE\[@SCALE\]"):
        parse_spec("depth")
    with pytest.raises(ConfigError, match=r"controlnet_scale\[0\] depth=3.0 must be a number in \[0, 2\]"):
        parse_spec("depth=tiny@3")
    with pytest.raises(ConfigError, match="names ControlNet 'depth' twice"):
        parse_specs(["depth=tiny", "depth=tiny@0.5"])


def test_tiny_specs_load_for_the_tiny_presets(tiny):
    nets, scales = load_controlnets(parse_specs(["depth=tiny@0.5", "normal=tiny"]), tiny)
    assert nets.names == ("depth", "normal") and scales == (("depth", 0.5), ("normal", 1.0))


def test_a_missing_source_and_another_family_are_refused(tiny, tiny_sdxl, tmp_path):
    with pytest.raises(ModelNotFoundError, match=f"ControlNet 'depth': cannot load folder '{tmp_path}'"):
        load_controlnets([ControlNetSpec("depth", str(tmp_path))], tiny, local_files_only=True)
    check_family("depth", tiny_controlnet(tiny), tiny.unet)  # able to fail: its own family passes
    with pytest.raises(ConfigError, match="ControlNet 'depth' is for another model family: its cross_attention_dim"):
        check_family("depth", tiny_controlnet(tiny), tiny_sdxl.unet)
