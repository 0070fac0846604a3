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
