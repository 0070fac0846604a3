// Reading flatc's golden files (schemas/golden/*.bin, SDB_GOLDEN_DIR) and checking the codec against them: one
// definition for every golden test (test_golden, plane_golden_test, golden_v14_test).
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
