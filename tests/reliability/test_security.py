"""Security: loopback default, the non-loopback bind rule, key generation, CurveZMQ with an allow-list, the
event-rate limit. (Message size, resolution and session limits: tests/transport/test_bad_input.py and
test_liveness.py.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import zmq
from transport.conftest import RawPeer, small_config  # tests/ is on sys.path (rootdir of the packages)
from zmq.utils.monitor import recv_monitor_message

from sdbridge.cli import main as cli_main
from sdbridge.config import ServerConfig, parse_config, with_overrides
from sdbridge.errors import ConfigError, TransportError
from sdbridge.protocol import messages as m
from sdbridge.server import BridgeServer
from sdbridge.transport import curve
from sdbridge.transport.client import BridgeClient
from tests.conftest import wait_for


def test_default_bind_is_loopback() -> None:
    assert ServerConfig().bind == "tcp://127.0.0.1:5555"
    assert curve.is_loopback(ServerConfig().bind)


@pytest.mark.parametrize(("endpoint", "loopback"), [
    ("tcp://127.0.0.1:5555", True), ("tcp://127.3.2.1:*", True), ("tcp://localhost:5555", True),
    ("tcp://[::1]:5555", True), ("ipc:///tmp/sdbridge.sock", True), ("inproc://x", True),
    ("tcp://*:5555", False), ("tcp://0.0.0.0:5555", False), ("tcp://192.168.1.20:5555", False),
    ("tcp://eth0:5555", False), ("tcp://[::]:5555", False), ("tcp://example.com:5555", False),
])
def test_loopback_detection(endpoint: str, loopback: bool) -> None:
    assert curve.is_loopback(endpoint) is loopback


def test_non_loopback_bind_refuses_to_start_without_keys() -> None:
    cfg = with_overrides(small_config(), top={"bind": "tcp://0.0.0.0:*"})
    server = BridgeServer(cfg)
    with pytest.raises(ConfigError, match=r"not a loopback address.*--insecure"):
        server.start()
    server.close()


def test_insecure_allows_a_non_loopback_bind() -> None:
    cfg = with_overrides(small_config(), top={"bind": "tcp://0.0.0.0:*"}, security={"insecure": True})
    server = BridgeServer(cfg)
    try:
        endpoint = server.start_in_thread()
        port = endpoint.rsplit(":", 1)[1]
        with BridgeClient(f"tcp://127.0.0.1:{port}", name="insecure") as client:
            client.connect(timeout=5)
    finally:
        server.close()


def test_serve_command_refuses_and_names_the_fix() -> None:
    out = subprocess.run([sys.executable, "-m", "sdbridge", "serve", "--model", "identity", "--bind", "tcp://*:0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "sdbridge keys generate" in out.stderr and "--insecure" in out.stderr


def test_keys_and_allow_list_go_together() -> None:
    with pytest.raises(ConfigError, match="go together"):
        parse_config('[security]\nserver_secret_key = "keys/server.key_secret"\n')


def test_keys_generate_writes_zeromq_certificates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["keys", "generate", "--dir", str(tmp_path), "--name", "editor"]) == 0
    public, secret = curve.load_pair(tmp_path / "editor.key_secret")
    assert curve.load_public(tmp_path / "editor.key") == public
    assert len(public) == 40 and len(secret) == 40
    assert len(zmq.utils.z85.decode(public)) == 32  # a Curve25519 public key in Z85
    assert (tmp_path / "editor.key_secret").stat().st_mode & 0o077 == 0  # secret readable by the owner only
    assert public.decode() in capsys.readouterr().out
    assert cli_main(["keys", "generate", "--dir", str(tmp_path), "--name", "editor"]) == 2  # no silent overwrite
    assert curve.load_public(tmp_path / "editor.key") == public
    assert cli_main(["keys", "generate", "--dir", str(tmp_path), "--name", "editor", "--force"]) == 0
    assert curve.load_public(tmp_path / "editor.key") != public


class CurveSetup:
    """Server keys, an allowed client pair and a stranger pair, all in tmp_path."""

    def __init__(self, root: Path) -> None:
        curve.generate(root, "server")
        curve.generate(root / "clients", "allowed")
        curve.generate(root / "strangers", "stranger")
        self.server_secret = root / "server.key_secret"
        self.server_public = curve.load_public(root / "server.key")
        self.allowed = curve.load_pair(root / "clients" / "allowed.key_secret")
        self.stranger = curve.load_pair(root / "strangers" / "stranger.key_secret")
        self.authorized = root / "clients"


@pytest.fixture
def curve_server(tmp_path: Path) -> Iterator[tuple[BridgeServer, CurveSetup]]:
    keys = CurveSetup(tmp_path)
    cfg = with_overrides(small_config(), top={"bind": "tcp://0.0.0.0:*"},  # non-loopback: allowed with keys
                         security={"server_secret_key": str(keys.server_secret),
                                   "authorized_keys": str(keys.authorized)})
    server = BridgeServer(cfg)
    server.start_in_thread()
    yield server, keys
    server.close()


def _local(endpoint: str) -> str:
    return "tcp://127.0.0.1:" + endpoint.rsplit(":", 1)[1]


def test_curve_allowed_client_streams(curve_server: tuple[BridgeServer, CurveSetup]) -> None:
    server, keys = curve_server
    image = np.arange(16 * 8 * 4, dtype=np.uint8).reshape(8, 16, 4)
    with BridgeClient(_local(server.endpoint), name="curve", curve_server_key=keys.server_public,
                      curve_public_key=keys.allowed[0], curve_secret_key=keys.allowed[1]) as client:
        client.connect(timeout=5)
        client.submit(image)
        result = client.receive(timeout=5)
        assert result is not None and np.array_equal(result.image, image)


def _handshake_events(server_key: bytes | None, pair: tuple[bytes, bytes] | None, endpoint: str) -> set[int]:
    """Monitor events of a DEALER that tries to connect (with the given keys) for up to 3 s."""
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    if server_key is not None and pair is not None:
        sock.setsockopt(zmq.CURVE_SERVERKEY, server_key)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, pair[0])
        sock.setsockopt(zmq.CURVE_SECRETKEY, pair[1])
    monitor = sock.get_monitor_socket()
    events: set[int] = set()
    try:
        sock.connect(endpoint)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not events & {zmq.EVENT_HANDSHAKE_SUCCEEDED,
                                                             zmq.EVENT_HANDSHAKE_FAILED_AUTH,
                                                             zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL}:
            if monitor.poll(100):
                events.add(recv_monitor_message(monitor)["event"])
    finally:
        sock.disable_monitor()
        monitor.close(0)
        sock.close(0)
    return events


def test_curve_refuses_a_key_not_on_the_list(curve_server: tuple[BridgeServer, CurveSetup]) -> None:
    server, keys = curve_server
    endpoint = _local(server.endpoint)
    assert zmq.EVENT_HANDSHAKE_SUCCEEDED in _handshake_events(keys.server_public, keys.allowed, endpoint)
    assert zmq.EVENT_HANDSHAKE_FAILED_AUTH in _handshake_events(keys.server_public, keys.stranger, endpoint)
    stranger = BridgeClient(endpoint, name="stranger", curve_server_key=keys.server_public,
                            curve_public_key=keys.stranger[0], curve_secret_key=keys.stranger[1])
    with stranger, pytest.raises(TransportError, match="authorized_keys"):
        stranger.connect(timeout=1.5)
    assert server.stats.sessions_opened == 0  # the stranger never reached the message handling


def test_curve_refuses_a_plain_client(curve_server: tuple[BridgeServer, CurveSetup]) -> None:
    server, _ = curve_server
    with BridgeClient(_local(server.endpoint), name="plain") as client, pytest.raises(TransportError):
        client.connect(timeout=1.0)
    assert server.stats.sessions_opened == 0 and server.stats.rejected_total == 0


def test_client_needs_all_three_curve_keys() -> None:
    from sdbridge.errors import InputError

    with pytest.raises(InputError, match="all three"):
        BridgeClient("tcp://127.0.0.1:1", curve_server_key=b"a" * 40)


def test_event_rate_is_limited_and_counted() -> None:
    cfg = with_overrides(small_config(), limits={"max_events_per_second": 10})
    server = BridgeServer(cfg)
    server.start_in_thread()
    peer = RawPeer(server.endpoint)
    try:
        peer.hello()
        for i in range(40):
            peer.send_msg(m.GameEvent(name=f"hit-{i}", payload={"damage": i}))
        peer.send_msg(m.Ping(nonce=7))
        errors = [msg for msg in peer.recv_until(m.Pong) if isinstance(msg, m.ErrorMsg)]
        assert 25 <= len(errors) <= 31  # a burst of 10 (plus what refills meanwhile) accepted, the rest refused
        assert all(e.code is m.ErrorCode.TOO_LARGE and "max_events_per_second=10" in e.message for e in errors)
        session = next(iter(server.table.sessions()))
        assert session.stats.events_received == 40 - len(errors)
        assert server.stats.rejected["TOO_LARGE"] == len(errors)
        time.sleep(0.5)  # the bucket refills: the session is still served
        peer.send_msg(m.State(entries={"zone": "forest"}))
        peer.send_msg(m.Ping(nonce=8))
        assert not any(isinstance(msg, m.ErrorMsg) for msg in peer.recv_until(m.Pong))
        assert session.state["zone"] == "forest"
    finally:
        peer.close()
        server.close()



def test_serve_flags_set_the_security_section() -> None:
    import argparse

    from sdbridge.commands import serve

    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    cfg = serve.config_from_args(parser.parse_args(["--bind", "tcp://*:5555", "--insecure"]))
    assert cfg.security.insecure and cfg.bind == "tcp://*:5555"
    cfg = serve.config_from_args(parser.parse_args(["--curve-secret-key", "k/server.key_secret",
                                                    "--authorized-keys", "k/clients"]))
    assert (cfg.security.server_secret_key, cfg.security.authorized_keys, cfg.security.insecure) == \
        ("k/server.key_secret", "k/clients", False)


def test_deleting_a_key_file_revokes_the_client_without_a_restart(
        curve_server: tuple[BridgeServer, CurveSetup]) -> None:
    """Before: the allow-list was read once at start, so a deleted key file still got in until a restart."""
    server, keys = curve_server
    endpoint = _local(server.endpoint)
    image = np.zeros((8, 16, 4), dtype=np.uint8)
    with BridgeClient(endpoint, name="curve", auto_reconnect=False, curve_server_key=keys.server_public,
                      curve_public_key=keys.allowed[0], curve_secret_key=keys.allowed[1]) as client:
        client.connect(timeout=5)
        client.submit(image)
        assert client.receive(timeout=5) is not None  # served while its key is on the list
        (keys.authorized / "allowed.key").unlink()
        time.sleep(0.6)  # the allow-list looks at its folder at most every 0.5 s
        client.submit(image)
        with pytest.raises(TransportError, match="ended"):
            client.receive(timeout=3)
        error = client.last_error
        assert error is not None and error.code is m.ErrorCode.SESSION_EXPIRED and "authorized_keys" in error.message
    wait_for(lambda: not server.table.sessions(), 3.0, "the revoked session to be freed")
    assert zmq.EVENT_HANDSHAKE_FAILED_AUTH in _handshake_events(keys.server_public, keys.allowed, endpoint)


def test_adding_a_key_file_allows_the_client_without_a_restart(curve_server: tuple[BridgeServer, CurveSetup]) -> None:
    server, keys = curve_server
    endpoint = _local(server.endpoint)
    assert zmq.EVENT_HANDSHAKE_FAILED_AUTH in _handshake_events(keys.server_public, keys.stranger, endpoint)
    shutil.copy(keys.authorized.parent / "strangers" / "stranger.key", keys.authorized / "stranger.key")
    time.sleep(0.6)
    assert zmq.EVENT_HANDSHAKE_SUCCEEDED in _handshake_events(keys.server_public, keys.stranger, endpoint)
