// Codec: Message <-> one FlatBuffers Envelope (ZeroMQ part 1), plus pixel-part size checks.
//
// The only code that includes the flatc-generated header is src/codec.cpp. Decode verifies the
// buffer (identifier "SDB1", flatbuffers Verifier, union type, enum ranges, dimensions) and never
// throws; every failure names the field and the limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "sdbridge/messages.h"
#include "sdbridge/status.h"
#include "sdbridge/version.h"  // kProtocolMajor/Minor, kFileIdentifier (Helper A's file)

namespace sdbridge {

/// Limits applied while decoding (before any pixel allocation).
struct DecodeLimits {
  uint32_t max_width = 8192;
  uint32_t max_height = 8192;
  size_t max_message_bytes = 64u * 1024u * 1024u;
};

/// Encode one message as a finished Envelope buffer with file identifier "SDB1".
/// Sub-objects are built in field-id order, tables through flatc's Create* functions, so the bytes
/// equal `flatc -b` of the same JSON (the golden files in schemas/golden/).
/// Fails only on resource exhaustion (kInternal) or when a value cannot be represented.
Status Encode(const Message& message, std::vector<uint8_t>* out);

/// Decode part 1 of a ZeroMQ message. On failure `out` is unchanged and the status says why
/// (kMalformed: wrong identifier, truncated, verifier failure, unknown union type).
Status Decode(const uint8_t* data, size_t size, Message* out, const DecodeLimits& limits = DecodeLimits());

/// Bytes the pixel part of `layout` must have: stride * height. Checks width, height and stride
/// against `limits` and width * bytes-per-pixel <= stride; on failure returns kInvalidArgument.
Status ExpectedPixelBytes(const PixelLayout& layout, size_t* bytes, const DecodeLimits& limits = DecodeLimits());

}  // namespace sdbridge
