"""The protocol version: the single Python place for it.

C# (unity_package/Runtime/Core/Protocol/ProtocolVersion.cs) and C++
(unreal_plugin/StreamDiffusionBridge/core/include/sdbridge/version.h) repeat these numbers;
tests/protocol/test_versions_agree.py fails when they disagree. A breaking wire change bumps
PROTOCOL_MAJOR and FILE_IDENTIFIER (see schemas/README.md); an appended field bumps PROTOCOL_MINOR.
"""

from __future__ import annotations

from typing import Final

PROTOCOL_MAJOR: Final[int] = 1
PROTOCOL_MINOR: Final[int] = 0

#: The 4-byte file_identifier of every Envelope buffer (schemas/bridge.fbs).
FILE_IDENTIFIER: Final[bytes] = b"SDB1"
