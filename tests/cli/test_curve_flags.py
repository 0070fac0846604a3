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
