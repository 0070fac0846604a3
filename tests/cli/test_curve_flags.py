"""`sdbridge serve --curve-secret-key FILE` without --authorized-keys is refused naming both flags (the message
named only the config keys security.server_secret_key and security.authorized_keys, not what the user typed)."""

from __future__ import annotations

import logging

import pytest

from sdbridge import cli


@pytest.mark.parametrize("flags", [["--curve-secret-key", "keys/server.key_secret"], ["--authorized-keys", "keys"]])
def test_one_curve_flag_alone_names_both(flags: list[str], caplog: pytest.LogCaptureFixture) -> None:
    assert cli.main(["serve", "--model", "identity", "--bind", "tcp://127.0.0.1:*", *flags]) == 2
    message = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert "--curve-secret-key" in message and "--authorized-keys" in message and "go together" in message, message


@pytest.mark.parametrize(("secret", "words"), [
    ("missing.key_secret", ["does not exist", "sdbridge keys generate"]),
    ("server.key", ["holds no secret key", "NAME.key_secret"]),
])
def test_an_unusable_secret_key_names_its_key_and_flag(secret: str, words: list[str], tmp_path: object,
                                                       loads: list[str], caplog: pytest.LogCaptureFixture) -> None:
    """Before: "certificate file keys/missing.key_secret does not exist" named neither the config key nor the
    flag; it is refused before the model loads."""
    from pathlib import Path

    from sdbridge.transport.curve import generate

    folder = Path(str(tmp_path))
    generate(folder, "server")
    generate(folder / "clients", "game")
    path = str(folder / secret)
    assert cli.main(["serve", "--model", "tiny", "--bind", "tcp://127.0.0.1:*", "--curve-secret-key", path,
                     "--authorized-keys", str(folder / "clients")]) == 2
    message = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert loads == [], message
    assert f"security.server_secret_key (--curve-secret-key) = {path!r}: " in message, message
    for word in words:
        assert word in message, message
