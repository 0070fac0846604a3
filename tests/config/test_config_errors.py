"""Mistakes a new user makes in a server config file or --bind are refused when the config is read (before the model
loads), naming the key or value and the fix."""

from __future__ import annotations

import pytest

from sdbridge.config import parse_config
from sdbridge.errors import ConfigError


@pytest.mark.parametrize(("bind", "expected"), [
    ("tcp://127.0.0.1:99999", "port '99999' must be an integer in [0, 65535]"),  # libzmq bound port 34463
    ("tcp://127.0.0.1:65536", "port '65536' must be an integer in [0, 65535]"),  # libzmq bound port 0: any
    ("tcp://127.0.0.1:abc", "port 'abc' must be an integer"),  # "Invalid argument" after the model loaded
    ("tcp://127.0.0.1", "has no port; write tcp://HOST:PORT"),
    ("udp://127.0.0.1:5555", "must start with tcp://, ipc:// or inproc://"),
])
def test_a_bad_bind_is_refused_naming_the_fix(bind: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=r"e\.g\. tcp://127\.0\.0\.1:5555") as refused:
        parse_config(f'bind = "{bind}"\n')
    assert expected in str(refused.value) and repr(bind) in str(refused.value)


@pytest.mark.parametrize("bind", ["tcp://127.0.0.1:5555", "tcp://127.0.0.1:*", "tcp://127.0.0.1:0", "tcp://*:65535",
                                  "tcp://[::1]:5555", "ipc:///tmp/sdbridge.sock", "inproc://bridge"])
def test_usable_binds_pass(bind: str) -> None:
    assert parse_config(f'bind = "{bind}"\n').bind == bind


@pytest.mark.parametrize(("text", "hint"), [
    ("[pipeline]\nguidance_scal = 1.2\n", "unknown key 'guidance_scal' (did you mean 'guidance_scale'?)"),
    ("[limit]\nmax_sessions = 2\n", "unknown key 'limit' (did you mean 'limits'?)"),
    ("[model]\nguidance_scale = 1.2\n", "unknown key 'guidance_scale' (it belongs in [pipeline])"),
    ("[pipeline]\ncredits = 3\n", "unknown key 'credits' (it belongs in [session])"),
])
def test_an_unknown_key_says_what_was_meant(text: str, hint: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(text, "server.toml")
    assert hint in str(refused.value) and "server.toml:" in str(refused.value), str(refused.value)


def test_an_unrelated_unknown_key_gets_no_guess() -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config("[pipeline]\nzzz = 1\n")
    assert "did you mean" not in str(refused.value) and "belongs in" not in str(refused.value)
    assert "allowed keys: [" in str(refused.value)


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "CPU"])
def test_an_unknown_device_is_refused_before_the_model_loads(device: str) -> None:
    # before: accepted here, then torch's RuntimeError traceback from inside the model load
    with pytest.raises(ConfigError, match=rf"model.device='{device}' is not a torch device; use cpu, cuda"):
        parse_config(f'[model]\ndevice = "{device}"\n')


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:1", "mps", "meta"])
def test_known_devices_pass(device: str) -> None:
    assert parse_config(f'[model]\ndevice = "{device}"\n').model.device == device


def test_cuda_graphs_without_compile_are_refused() -> None:
    # before: --cuda-graphs with the default eager backend was accepted and silently did nothing
    with pytest.raises(ConfigError, match=r"accel\.cuda_graphs needs accel\.backend=compile.*add --accel compile"):
        parse_config("[accel]\ncuda_graphs = true\n")
    assert parse_config('[accel]\nbackend = "compile"\ncuda_graphs = true\n').accel.cuda_graphs


@pytest.mark.parametrize(("text", "located"), [
    ("[pipeline]\nprompt = \"x\"\nguidance_scale = 99\n",
     "server.toml:3: pipeline.guidance_scale: guidance_scale=99.0"),
    ("[limits]\nmax_sessions = 0\n", "server.toml:2: limits.max_sessions=0 must be >= 1"),
    ("[model]\nname = \"tiny\"\nwidth = 63\n", "server.toml:3: model.width=63 must be a positive multiple of 8"),
    ("# a comment\nbind = \"tcp://127.0.0.1\"\n", "server.toml:2: bind='tcp://127.0.0.1' has no port"),
])
def test_a_value_out_of_range_names_the_file_and_line(text: str, located: str) -> None:
    # before: the range checks named the key but not the file or the line ("pipeline.guidance_scale: ...")
    with pytest.raises(ConfigError) as refused:
        parse_config(text, "server.toml")
    assert str(refused.value).startswith(located), str(refused.value)
