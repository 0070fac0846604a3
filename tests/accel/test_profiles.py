"""Engine profiles (engines/profiles/*.toml) and `sdbridge build-engines`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdbridge.acceleration import BackendChoice
from sdbridge.acceleration.profiles import batch_range, load_profile
from sdbridge.errors import ConfigError

PROFILES = Path(__file__).resolve().parents[2] / "engines" / "profiles"


def test_committed_profiles_load() -> None:
    sd = load_profile(PROFILES / "sd-turbo-512.toml")
    assert sd.model == "stabilityai/sd-turbo" and sd.backend is BackendChoice.TENSORRT and sd.dtype == "float16"
    assert sd.shapes.width == (384, 512, 768) and sd.shapes.batch == (1, 1, 8)  # full CFG at 4 steps: 8
    xl = load_profile(PROFILES / "sdxl-turbo-1024.toml")
    assert xl.model == "stabilityai/sdxl-turbo" and xl.shapes.height == (768, 1024, 1024) and xl.shapes.batch[2] == 2


def test_batch_range_follows_cfg_modes() -> None:
    assert batch_range((1, 2, 4), (1, 1, 1), ["none"]) == (1, 2, 4)
    assert batch_range((1, 2, 4), (1, 1, 2), ["self", "full"]) == (1, 2, 16)
    assert batch_range((1, 1, 3), (1, 1, 1), ["initialize"]) == (1, 2, 4)


@pytest.mark.parametrize(("text", "match"), [
    ('[model]\nname = "tiny"\n[engine]\nbackend = "eager"\n', "builds no engines"),
    ('[model]\nname = "tiny"\n[engin]\n', "unknown section"),
    ('[model]\nname = "tiny"\nsize = 3\n', "unknown key"),
    ('[model]\nvae = "taesd"\n', "name is required"),
    ('[model]\nname = "tiny"\n[shapes]\nwidth = [512, 256, 768]\nheight = [64, 64, 64]\n', "min <= opt <= max"),
    ('[model]\nname = "tiny"\n[shapes]\nwidth = 512\nheight = [64, 64, 64]\n', "three integers"),
    ('[model]\nname = "tiny"\n[shapes]\nwidth = [64, 64, 64]\nheight = [64, 64, 64]\ncfg_modes = ["half"]\n',
     "cfg_modes"),
])
def test_bad_profiles_name_the_problem(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_profile(path)


def test_build_engines_command(engines_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sdbridge.cli import main

    code = main(["build-engines", "--profile", str(PROFILES / "tiny-cpu-onnx.toml"), "--engines-dir",
                 str(engines_dir)])
    out = capsys.readouterr().out
    assert code == 0 and "engines of" in out
    for component in ("unet", "vae_encoder", "vae_decoder"):
        assert f" {component} " in out
    manifests = [json.loads(p.read_text()) for p in engines_dir.glob("*-tiny-onnx-*/manifest.json")]
    assert {m["key"]["component"] for m in manifests} >= {"unet", "vae_encoder", "vae_decoder"}


def test_build_engines_for_a_gpu_profile_here_fails_clearly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from sdbridge.cli import main

    code = main(["build-engines", "--profile", str(PROFILES / "sd-turbo-512.toml"), "--engines-dir", str(tmp_path)])
    assert code != 0 and "CUDA" in caplog.text
    assert not any(tmp_path.iterdir())
