"""ControlNet specs (`KIND=SOURCE[@SCALE]`: sdbridge.config), loading (sdbridge.pipeline.controlnet_loading) and
their way into the server: --controlnet, [model] controlnet, the per-session pipeline factory."""

from __future__ import annotations

import argparse

import pytest

from sdbridge.commands import serve
from sdbridge.config import ControlNetSpec, check_controlnets, parse_config, parse_controlnet
from sdbridge.errors import ConfigError, ModelNotFoundError
from sdbridge.pipeline.controlnet import tiny_controlnet
from sdbridge.pipeline.controlnet_loading import check_family, load_controlnets
from sdbridge.served_model import factory_from_components


def test_specs_parse_kind_source_and_scale():
    assert parse_controlnet("depth=lllyasviel/control_v11f1p_sd15_depth@0.8", "--controlnet") == ControlNetSpec(
        "depth", "lllyasviel/control_v11f1p_sd15_depth", 0.8)
    assert parse_controlnet("canny=tiny", "--controlnet") == ControlNetSpec("canny", "tiny", 1.0)
    assert parse_controlnet("seg=/models/with@sign/seg", "x") == ControlNetSpec("seg", "/models/with@sign/seg", 1.0)
    with pytest.raises(ConfigError, match=r"--controlnet='depth' is not KIND=SOURCE\[@SCALE\]"):
        parse_controlnet("depth", "--controlnet")
    with pytest.raises(ConfigError, match=r"controlnet_scale\[0\] depth=3.0 must be a number in \[0, 2\]"):
        parse_controlnet("depth=tiny@3", "--controlnet")
    with pytest.raises(ConfigError, match="names ControlNet 'depth' twice"):
        check_controlnets(("depth=tiny", "depth=tiny@0.5"), "--controlnet")


def test_tiny_specs_load_for_the_tiny_presets(tiny):
    nets, scales = load_controlnets(check_controlnets(("depth=tiny@0.5", "normal=tiny"), "x"), tiny)
    assert nets.names == ("depth", "normal") and scales == (("depth", 0.5), ("normal", 1.0))


def test_a_missing_source_and_another_family_are_refused(tiny, tiny_sdxl, tmp_path):
    with pytest.raises(ModelNotFoundError, match=f"ControlNet 'depth': cannot load folder '{tmp_path}'"):
        load_controlnets([ControlNetSpec("depth", str(tmp_path))], tiny, local_files_only=True)
    check_family("depth", tiny_controlnet(tiny), tiny.unet)  # able to fail: its own family passes
    with pytest.raises(ConfigError, match="ControlNet 'depth' is for another model family: its cross_attention_dim"):
        check_family("depth", tiny_controlnet(tiny), tiny_sdxl.unet)


def test_config_and_flag_name_controlnets():
    cfg = parse_config('[model]\nname = "tiny"\ncontrolnet = ["depth=tiny@0.5"]\n')
    assert cfg.model.controlnets() == (ControlNetSpec("depth", "tiny", 0.5),)
    with pytest.raises(ConfigError, match=r"model.controlnet\[0\]='depth' is not KIND=SOURCE"):
        parse_config('[model]\ncontrolnet = ["depth"]\n')
    with pytest.raises(ConfigError, match=r"model\.controlnet needs accel\.backend=eager"):
        parse_config('[model]\ncontrolnet = ["depth=tiny"]\n[accel]\nbackend = "compile"\n')
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    args = parser.parse_args(["--controlnet", "depth=tiny@0.25", "--controlnet", "seg=tiny"])
    assert serve.config_from_args(args).model.controlnets() == (ControlNetSpec("depth", "tiny", 0.25),
                                                                ControlNetSpec("seg", "tiny"))
    with pytest.raises(ConfigError, match="--controlnet='oops'"):
        serve.config_from_args(parser.parse_args(["--controlnet", "oops"]))


def test_each_session_pipeline_gets_the_shared_controlnets(tiny):
    cfg = parse_config('[model]\nname = "tiny"\ncontrolnet = ["depth=tiny@0.5"]\n')
    nets, _ = load_controlnets(cfg.model.controlnets(), tiny)
    build, _ = factory_from_components(tiny, cfg, nets)
    a, b = build(64, 64), build(64, 64)
    assert a.control.nets is nets and b.control.nets is nets
    assert a.config.controlnet_scale == (("depth", 0.5),)
    plain, _ = factory_from_components(tiny, parse_config('[model]\nname = "tiny"\n'))
    assert plain(64, 64).control.nets is None  # able to fail: without ControlNets a pipeline has none
