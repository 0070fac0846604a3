// The wire protocol version spoken by the C++ client core.
// Must equal python_server/sdbridge/protocol/version.py and the C# ProtocolVersion.cs;
// tests/protocol/test_versions_agree.py fails when they disagree.
#pragma once

#include <cstdint>

namespace sdbridge {

/// Major version: a different major is refused by the server.
constexpr uint16_t kProtocolMajor = 1;
/// Minor version: a different minor is accepted with a warning.
constexpr uint16_t kProtocolMinor = 0;
/// file_identifier of every Envelope buffer (schemas/bridge.fbs).
constexpr const char kFileIdentifier[] = "SDB1";

}  // namespace sdbridge
