"""The protocol version: generated from schemas/bridge.fbs (the Envelope's protocol_major / protocol_minor
attributes and its file_identifier) by schemas/codegen.py, which writes the same constants for C#
(unity_package/Runtime/Core/Generated/BridgeConstants.cs) and C++ (core/include/sdbridge/generated/bridge_constants.h);
`python schemas/codegen.py --check` fails when any copy is stale. A breaking wire change bumps the major and the
file_identifier (see schemas/README.md); an appended field bumps the minor.
"""

from __future__ import annotations

from sdbridge.protocol._generated.bridge_schema import FILE_IDENTIFIER, PROTOCOL_MAJOR, PROTOCOL_MINOR

__all__ = ["FILE_IDENTIFIER", "PROTOCOL_MAJOR", "PROTOCOL_MINOR"]
