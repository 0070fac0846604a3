"""`--controlnet KIND=SOURCE@SCALE` with a SCALE that is not a number, or a KIND that is not a name, is refused
before anything loads, naming the flag, the value and the fix (depth=tiny@abc read 'tiny@abc' as a Hub id and spent
13 s looking it up before refusing)."""

from __future__ import annotations

import logging

import pytest

from sdbridge import cli
from sdbridge.commands.demo import controlnet_spec
from sdbridge.config import parse_controlnet
from sdbridge.errors import ConfigError
from tests.cli.conftest import free_port


@pytest.mark.parametrize(("value", "words"), [
    ("depth=tiny@abc", ["SCALE 'abc'", "not a number", "in [0, 2]"]),
    ("depth=tiny@", ["SCALE ''", "not a number"]),
    ("de pth=tiny@0.5", ["KIND 'de pth'", "not a ControlNet name"]),
])
def test_serve_refuses_a_bad_spec_before_the_model_loads(value: str, words: list[str],
                                                         loads: list[str],
                                                         caplog: pytest.LogCaptureFixture) -> None:
    bind = f"tcp://127.0.0.1:{free_port()}"
    assert cli.main(["serve", "--model", "tiny", "--bind", bind, "--controlnet", "depth=tiny@0.5"]) == 2
    assert loads == ["load"]  # a good spec gets as far as the load
    loads.clear()
    caplog.clear()
    assert cli.main(["serve", "--model", "tiny", "--bind", bind, "--controlnet", value]) == 2
    message = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert loads == [], message
    assert f"--controlnet={value!r}" in message and "e.g. --controlnet depth=" in message, message
    for word in words:
        assert word in message, message


def test_the_demo_refuses_a_scale_that_is_not_a_number() -> None:
    with pytest.raises(ConfigError, match=r"--controlnet='depth=tiny@abc': SCALE 'abc'"):
        controlnet_spec("depth=tiny@abc", "tiny")


def test_an_existing_folder_with_an_at_sign_is_still_a_source(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path)) / "control@v2"
    folder.mkdir()
    spec = parse_controlnet(f"depth={folder}", "--controlnet")
    assert (spec.source, spec.scale) == (str(folder), 1.0)
    assert parse_controlnet(f"depth={folder}@0.25", "--controlnet").scale == 0.25


def test_the_demo_reads_kind_at_scale_as_the_tiny_controlnet() -> None:
    # before: 'depth@0.5' became 'depth@0.5=tiny', refused as a KIND the user never typed
    assert controlnet_spec("depth@0.5", "tiny") == "depth=tiny@0.5"
    assert controlnet_spec("depth", "tiny") == "depth=tiny"
    with pytest.raises(ConfigError, match=r"'depth=tiny@abc': SCALE 'abc'"):
        controlnet_spec("depth@abc", "tiny")


def test_ip_adapter_scale_that_is_not_a_number_is_refused_before_the_model_loads(
        loads: list[str], caplog: pytest.LogCaptureFixture) -> None:
    bind = f"tcp://127.0.0.1:{free_port()}"
    assert cli.main(["serve", "--model", "tiny", "--bind", bind, "--ip-adapter", "tiny@0.5"]) == 2
    assert loads == ["load"]
    loads.clear()
    caplog.clear()
    # before: refused by the adapter loader, after the model had loaded ('tiny@abc' is not a weight file)
    assert cli.main(["serve", "--model", "tiny", "--bind", bind, "--ip-adapter", "tiny@abc"]) == 2
    message = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert loads == [] and "--ip-adapter='tiny@abc': SCALE 'abc' (after the '@') is not a number" in message, message


def test_an_at_sign_in_a_weight_file_name_stays_in_the_source() -> None:
    from sdbridge.config import parse_ip_adapter

    spec = parse_ip_adapter("h94/IP-Adapter/models/ip@v2.safetensors", "--ip-adapter")
    assert spec is not None and (spec.source, spec.scale) == ("h94/IP-Adapter/models/ip@v2.safetensors", 1.0)
