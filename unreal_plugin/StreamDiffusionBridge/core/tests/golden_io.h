// Reading flatc's golden files (schemas/golden/*.bin, SDB_GOLDEN_DIR), checking the codec against them, and the
// values more than one golden file shares: one definition for every golden test (test_golden, plane_golden_test,
// golden_v14_test).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <variant>
#include <vector>

#include "sdbridge/codec.h"

namespace sdbridge::testing {

// The session id every golden message carries.
constexpr uint64_t kGoldenSession = 0x0123456789ABCDEFull;

// The pixel layout of the golden frames and result: 4x2 with 16-byte rows, in the format, row order, colour space
// and alpha mode of each file.
inline PixelLayout GoldenLayout(PixelFormat format = PixelFormat::kRGBA8, RowOrder rows = RowOrder::kTopDown,
                                ColorSpace space = ColorSpace::kSRGB, AlphaMode alpha = AlphaMode::kIgnore) {
  return PixelLayout{4, 2, 16, format, rows, space, alpha};
}

// The header of every golden Frame file (frame_*.json): the golden session, stream 1 and the same client clock.
inline FrameHeader GoldenFrame(uint64_t frame_id, const PixelLayout& layout = GoldenLayout()) {
  FrameHeader f;
  f.session_id = kGoldenSession;
  f.stream_id = 1;
  f.frame_id = frame_id;
  f.layout = layout;
  f.capture_time_us = 1700000000000000ull;
  f.send_time_us = 1700000000000250ull;
  return f;
}

// welcome.json (protocol 1.0); welcome_capacity.json is the same server at protocol 1.4.
inline Welcome GoldenWelcome() {
  Welcome w;
  w.session_id = kGoldenSession;
  w.protocol_major = 1;
  w.protocol_minor = 0;
  w.server_version = "0.1.0";
  w.capabilities = 83;
  w.initial_credits = 2;
  w.max_width = 2048;
  w.max_height = 2048;
  w.max_message_bytes = 16781312;
  w.latency_frames = 1;
  w.model = ModelInfo{"tiny", ModelFamily::kSD15, 256, 256};
  w.heartbeat_interval_ms = 1000;
  w.pixel_formats = std::vector<PixelFormat>{PixelFormat::kRGBA8, PixelFormat::kBGRA8, PixelFormat::kRGB8};
  w.warning = "client speaks protocol 1.1, this server speaks 1.0";
  return w;
}

inline std::vector<uint8_t> ReadGolden(const std::string& name) {
  const std::string path = std::string(SDB_GOLDEN_DIR) + "/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The message a golden file decodes to, which must be a T (a default T, with a failure, when it is not).
template <typename T>
T DecodeGolden(const std::string& name) {
  const auto bytes = ReadGolden(name);
  Message m;
  Status s = Decode(bytes.data(), bytes.size(), &m);
  EXPECT_TRUE(s.ok()) << name << ": " << s.message();
  EXPECT_TRUE(std::holds_alternative<T>(m)) << name << " holds " << MessageName(m);
  return std::holds_alternative<T>(m) ? std::get<T>(m) : T{};
}

// `m` encodes to exactly the bytes of the golden file `name`.
inline void ExpectEncodesTo(const Message& m, const std::string& name) {
  std::vector<uint8_t> bytes;
  Status s = Encode(m, &bytes);
  ASSERT_TRUE(s.ok()) << s.message();
  const auto golden = ReadGolden(name);
  EXPECT_EQ(bytes, golden) << MessageName(m) << " encodes to " << bytes.size() << " bytes that differ from " << name
                           << " (" << golden.size() << " bytes)";
}

}  // namespace sdbridge::testing
