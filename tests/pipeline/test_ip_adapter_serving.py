"""`sdbridge serve --ip-adapter SOURCE[@SCALE]` and `[model] ip_adapter`: parsing, the eager-only rule, the tiny
adapters, a weight file with its image encoder loaded from a folder, and every session's pipeline sharing it."""

from __future__ import annotations

import argparse
import math
import re

import numpy as np
import pytest
import torch

from sdbridge.commands import serve
from sdbridge.config import IpAdapterSpec, parse_config, parse_ip_adapter
from sdbridge.errors import ConfigError, ModelNotFoundError
from sdbridge.pipeline.components import load_components
from sdbridge.pipeline.ip_adapter_loading import load_ip_adapter, read_weights, save_ip_adapter
from sdbridge.pipeline.ip_adapter_tiny import tiny_image_encoder, tiny_state_dict
from sdbridge.served_model import factory_from_components


def test_specs_parse_source_and_scale():
    assert parse_ip_adapter("tiny@0.5", "--ip-adapter") == IpAdapterSpec("tiny", 0.5)
    assert parse_ip_adapter("h94/IP-Adapter/models/ip-adapter_sd15.safetensors", "x") == IpAdapterSpec(
        "h94/IP-Adapter/models/ip-adapter_sd15.safetensors", 1.0)
    assert parse_ip_adapter("dir/a@b.safetensors", "x") == IpAdapterSpec("dir/a@b.safetensors", 1.0)
    assert parse_ip_adapter("", "x") is None
    with pytest.raises(ConfigError, match=r"--ip-adapter: ip_adapter_scale=3\.0 must be a number in \[0, 2\]"):
        parse_ip_adapter("tiny@3", "--ip-adapter")
    with pytest.raises(ConfigError, match=r"--ip-adapter='@0\.5' is not SOURCE\[@SCALE\]"):
        parse_ip_adapter("@0.5", "--ip-adapter")


def test_config_and_flag_name_the_adapter():
    assert parse_config('[model]\nip_adapter = "tiny-plus@0.7"\n').model.ip_adapter_spec() == IpAdapterSpec(
        "tiny-plus", 0.7)
    assert parse_config('[model]\nname = "tiny"\n').model.ip_adapter_spec() is None
    with pytest.raises(ConfigError, match=r"model\.ip_adapter needs accel\.backend=eager .* no IP-Adapter image "
                                          r"projection"):
        parse_config('[model]\nip_adapter = "tiny"\n[accel]\nbackend = "onnxruntime"\n')
    parse_config('[model]\nip_adapter = "tiny"\n[accel]\nbackend = "eager"\n')  # able to fail: eager is accepted
    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    args = parser.parse_args(["--ip-adapter", "tiny@0.25"])
    assert serve.config_from_args(args).model.ip_adapter_spec() == IpAdapterSpec("tiny", 0.25)
    with pytest.raises(ConfigError, match=r"--ip-adapter: ip_adapter_scale=9\.0"):
        serve.config_from_args(parser.parse_args(["--ip-adapter", "tiny@9"]))


def test_each_session_pipeline_gets_the_shared_adapter_at_its_scale():
    comps = load_components("tiny", device="cpu", dtype=torch.float32)
    cfg = parse_config('[model]\nname = "tiny"\nip_adapter = "tiny@0.5"\n')
    adapter = load_ip_adapter(cfg.model.ip_adapter_spec(), comps)  # type: ignore[arg-type]
    build, _ = factory_from_components(comps, cfg, None, adapter)
    a, b = build(64, 64), build(64, 64)
    assert a.style.adapter is adapter and b.style.adapter is adapter
    assert a.config.ip_adapter_scale == 0.5
    with pytest.raises(ConfigError, match="carries an IP-Adapter: give the pipeline that IpAdapter"):
        factory_from_components(comps, parse_config('[model]\nname = "tiny"\n'))  # the UNet needs image_embeds


def test_a_weight_file_and_its_encoder_folder_load_like_the_tiny_one(tmp_path):
    encoder = tiny_image_encoder(seed=4)
    comps = load_components("tiny", device="cpu", dtype=torch.float32)
    state = tiny_state_dict(comps.unet.config, encoder.config, plus=True, seed=4)
    path = save_ip_adapter(tmp_path / "models", state, encoder)
    loaded = read_weights(path)
    assert all(torch.equal(loaded[h][k], v) for h in state for k, v in state[h].items())
    adapter = load_ip_adapter(IpAdapterSpec(str(path)), comps)
    assert adapter.plus
    style = np.random.default_rng(1).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    with torch.inference_mode():
        expected = encoder(adapter.image_processor(style, return_tensors="pt").pixel_values,
                           output_hidden_states=True).hidden_states[-2]
    torch.testing.assert_close(adapter.embed(style), expected)
    (tmp_path / "models" / "image_encoder").rename(tmp_path / "elsewhere")
    with pytest.raises(ModelNotFoundError, match=r"no image encoder folder .*image_encoder"):
        load_ip_adapter(IpAdapterSpec(str(path)), load_components("tiny", device="cpu", dtype=torch.float32))
    with pytest.raises(ModelNotFoundError, match="is not a weight file or a Hub file"):
        load_ip_adapter(IpAdapterSpec(str(tmp_path / "missing.safetensors")), comps)


def test_the_bench_section_measures_each_case_and_leaves_the_components_alone(tiny, one_thread):
    from sdbridge.bench.ip_adapter_cost import ip_adapter_cost_report
    from sdbridge.pipeline.ip_adapter import has_ip_adapter

    rng = np.random.default_rng(0)
    report = ip_adapter_cost_report(tiny, 64, [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(3)])
    for row in ("| no adapter |", "| adapter, no style image (scale 0) |", "| adapter + style image, scale 1 |",
                "| Plus adapter + style image, scale 1 |", "a new 512x512 style image (plain)",
                "a new 512x512 style image (Plus)", "| adapter + 2-style blend, scale 1 |",
                "a style_blend change (plain)", "a style_blend change (Plus)"):
        assert row in report
    rows = [line.strip("|").split("|") for line in report.splitlines() if line.startswith("| ") and "---" not in line]
    figures = [(cells[0].strip(), float(cells[1]), float(cells[2]), float(cells[3])) for cells in rows[1:]]
    assert len(figures) == 5, rows  # each case measured: frames/s and ms per frame finite and positive
    assert all(math.isfinite(fps) and fps > 0 and math.isfinite(ms) and ms > 0 and math.isfinite(extra)
               for _, fps, ms, extra in figures), figures
    one_off = [float(x) for x in re.findall(r"(-?[0-9.]+(?:e[-+]?[0-9]+)?) ms", report.split("|---|", 1)[1])
               if x not in ("-", ".")]
    once = [line for line in report.splitlines() if line.startswith(("a new 512x512", "a style_blend change"))]
    assert len(once) == 4 and len(one_off) >= 8, (once, one_off)
    assert all(math.isfinite(ms) and ms >= 0 for ms in one_off), one_off  # a cache hit may round to 0.00 ms
    assert not has_ip_adapter(tiny.unet)  # the adapters went on copies of the UNet


def test_rules_files_set_the_scale_within_the_registry_range():
    from sdbridge.events.rules import RulesError, parse_rules

    head = 'version = 1\n[prompt]\ntemplate = "a city"\n[params]\n'
    assert dict(parse_rules(head + "ip_adapter_scale = 0.4\n", "r.toml").params) == {"ip_adapter_scale": 0.4}
    with pytest.raises(RulesError, match=r"ip_adapter_scale=2\.5 must be a number in \[0, 2\]"):
        parse_rules(head + "ip_adapter_scale = 2.5\n", "r.toml")


def test_load_model_serves_the_configured_adapter_to_each_session():
    from sdbridge.served_model import load_model

    cfg = parse_config('[model]\nname = "tiny"\ndtype = "float32"\nip_adapter = "tiny-plus@0.3"\n'
                       '[limits]\nmax_style_images = 3\n')
    build, _ = load_model(cfg)
    a, b = build(64, 64), build(64, 64)
    assert a.style.adapter is not None and a.style.adapter is b.style.adapter and a.style.adapter.plus
    assert a.config.ip_adapter_scale == 0.3
    assert a.style.max_images == 3  # the configured limits.max_style_images, not the default
    a.prepare(prompt="x")
    a.style.set_image("s", np.full((32, 32, 3), 200, dtype=np.uint8))
    assert a(np.zeros((64, 64, 3), dtype=np.uint8)).image.shape == (64, 64, 3)
    plain, _ = load_model(parse_config('[model]\nname = "tiny"\ndtype = "float32"\n'))
    assert plain(64, 64).style.adapter is None  # able to fail: without the key no adapter
