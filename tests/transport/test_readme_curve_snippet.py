"""README.md's CurveZMQ example for Python ("Security and reliability") runs as written against a server with keys:
the keys `sdbridge keys generate` writes, the calls it names (load_pair for the client's pair, load_public for the
server's public key), and a handshake through them. It used to say only that load_pair "reads a pair", which leaves
no way to read the server's public key from server.key (load_pair refuses it: no secret)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdbridge.config import with_overrides
from sdbridge.server import BridgeServer
from sdbridge.transport import curve

from .conftest import small_config

README = Path(__file__).resolve().parents[2] / "README.md"


def _snippet() -> str:
    section = README.read_text(encoding="utf-8").split("\n## Security and reliability\n", 1)[1]
    return section.split("From Python:\n\n```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_curve_example_connects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = tmp_path / "keys"
    curve.generate(keys, "server")
    curve.generate(keys / "clients", "unity-editor")
    cfg = with_overrides(small_config(), security={"server_secret_key": str(keys / "server.key_secret"),
                                                   "authorized_keys": str(keys / "clients")})
    server = BridgeServer(cfg)
    try:
        endpoint = server.start_in_thread()
        code = _snippet().replace("tcp://gpu-host:5555", endpoint)
        assert "load_public(\"keys/server.key\")" in code and "load_pair(\"keys/clients/unity-editor" in code
        namespace: dict[str, object] = {}
        monkeypatch.chdir(tmp_path)  # the example's paths are relative to where the keys were made
        exec(compile(code, "README.md", "exec"), namespace)
        client = namespace["client"]
        with client:  # type: ignore[attr-defined]
            assert client.connect(timeout=5).session_id >= 1  # type: ignore[attr-defined]
    finally:
        server.close()
