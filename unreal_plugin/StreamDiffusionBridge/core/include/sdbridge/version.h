// The wire protocol version spoken by the C++ client core: kProtocolMajor, kProtocolMinor, kFileIdentifier.
// They are generated from schemas/bridge.fbs (the Envelope's protocol_major / protocol_minor attributes and its
// file_identifier) by schemas/codegen.py into generated/bridge_constants.h, together with the same constants for
// Python and C#; `python schemas/codegen.py --check` fails when any copy is stale. Kept as the include that
// client.h and codec.h (and engine code) use.
#pragma once

#include "sdbridge/generated/bridge_constants.h"
