"""The C# and C++ clients reconnect with the Python client's backoff (sdbridge.transport.client_retry.Backoff): the
same base and cap, stated once per language because the engine cores cannot import Python; this test keeps the
three in step (the delays themselves are tested in each language: ReconnectTests.cs, client_retry_test.cpp)."""

from __future__ import annotations

import re
from pathlib import Path

from sdbridge.transport.client_retry import Backoff

ROOT = Path(__file__).resolve().parents[2]
CSHARP = ROOT / "unity_package" / "Runtime" / "Core" / "Client" / "BridgeClientOptions.cs"
CPP = ROOT / "unreal_plugin" / "StreamDiffusionBridge" / "core" / "include" / "sdbridge" / "client.h"


def _ms(pattern: str, text: str, where: Path) -> int:
    found = re.search(pattern, text)
    assert found is not None, f"{pattern!r} not found in {where}"
    return int(found.group(1))


def test_csharp_and_cpp_defaults_are_the_python_backoff() -> None:
    backoff = Backoff()
    base_ms, cap_ms = round(backoff.base_s * 1000), round(backoff.cap_s * 1000)
    cs = CSHARP.read_text(encoding="utf-8")
    assert _ms(r"public int ReconnectDelayMs = (\d+);", cs, CSHARP) == base_ms
    assert _ms(r"public int ReconnectMaxDelayMs = (\d+);", cs, CSHARP) == cap_ms
    cpp = CPP.read_text(encoding="utf-8")
    assert _ms(r"std::chrono::milliseconds reconnect_delay\{(\d+)\};", cpp, CPP) == base_ms
    assert _ms(r"std::chrono::milliseconds reconnect_delay_max\{(\d+)\};", cpp, CPP) == cap_ms
