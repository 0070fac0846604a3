"""`sdbridge serve --model identity` with a ControlNet, an IP-Adapter or a LoRA is refused before anything loads,
naming the flag and the fix (a ControlNet or IP-Adapter raised AttributeError while loading; LoRAs were ignored)."""

from __future__ import annotations

import logging

import pytest

from sdbridge import cli
from tests.cli.conftest import free_port


@pytest.mark.parametrize(("flag", "value"), [("--controlnet", "depth=tiny"), ("--ip-adapter", "tiny"),
                                             ("--lora", "some/lora=1.0")])
def test_identity_with_a_model_addition_is_refused(flag: str, value: str, loads: list[str],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    bind = f"tcp://127.0.0.1:{free_port()}"
    assert cli.main(["serve", "--model", "tiny", "--bind", bind, flag, value]) == 2
    assert loads == ["load"]  # the same flag with a real model gets as far as the load
    loads.clear()
    caplog.clear()
    assert cli.main(["serve", "--model", "identity", "--bind", bind, flag, value]) == 2
    message = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert loads == [] and f"{flag} ([model] " in message and "--model identity is none" in message, message
    assert message.endswith(f"or drop {flag}")


def test_the_demo_refuses_a_controlnet_for_the_identity_model() -> None:
    from sdbridge.commands.demo import controlnet_spec
    from sdbridge.errors import ConfigError

    assert controlnet_spec("depth", "tiny") == "depth=tiny"
    # before: "with --model identity give KIND=SOURCE (a Hub id or folder of a ControlNet for it)"
    with pytest.raises(ConfigError, match="needs a diffusion model, and --model identity is none"):
        controlnet_spec("depth", "identity")
