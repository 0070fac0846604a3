// Codec tests: every message round-trips; hostile bytes never crash and say what is wrong.
#include <gtest/gtest.h>

#include <cstring>
#include <iterator>
#include <limits>
#include <random>

#include "samples.h"
#include "sdbridge/codec.h"
#include "sdbridge/generated/stream_params.h"

namespace sdbridge {
namespace {

using testing::AllSampleMessages;

std::vector<uint8_t> MustEncode(const Message& m) {
  std::vector<uint8_t> bytes;
  Status s = Encode(m, &bytes);
  EXPECT_TRUE(s.ok()) << s.message();
  return bytes;
}

TEST(Codec, EveryMessageRoundTripsToIdenticalBytes) {
  const auto all = AllSampleMessages();
  ASSERT_EQ(all.size(), std::variant_size_v<Message>);  // one sample per message type
  for (const Message& m : all) {
    SCOPED_TRACE(MessageName(m));
    const auto bytes = MustEncode(m);
    ASSERT_GE(bytes.size(), 8u);
    EXPECT_EQ(0, std::memcmp(bytes.data() + 4, "SDB1", 4));
    Message back;
    Status s = Decode(bytes.data(), bytes.size(), &back);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(back.index(), m.index());
    EXPECT_EQ(MustEncode(back), bytes);
  }
}

TEST(Codec, DecodedFieldsMatch) {
  const auto all = AllSampleMessages();
  Message back;
  auto bytes = MustEncode(all[4]);  // Result
  ASSERT_TRUE(Decode(bytes.data(), bytes.size(), &back).ok());
  const auto& r = std::get<ResultHeader>(back);
  EXPECT_EQ(r.frame_id, 77u);
  EXPECT_EQ(r.source_frame_id, 76u);
  EXPECT_EQ(r.layout.format, PixelFormat::kRGB8);
  EXPECT_EQ(r.layout.row_order, RowOrder::kTopDown);
  EXPECT_EQ(r.layout.color_space, ColorSpace::kLinear);
  EXPECT_EQ(r.inference_us, 20000u);
  EXPECT_TRUE(r.is_warmup);
  EXPECT_TRUE(r.skipped);
  EXPECT_EQ(r.credits_granted, 1u);

  bytes = MustEncode(all[7]);  // GameEvent
  ASSERT_TRUE(Decode(bytes.data(), bytes.size(), &back).ok());
  const auto& ev = std::get<GameEvent>(back);
  ASSERT_TRUE(ev.payload.has_value());
  ASSERT_EQ(ev.payload->size(), 5u);
  EXPECT_EQ(std::get<bool>((*ev.payload)[0].value), true);
  EXPECT_EQ(std::get<int64_t>((*ev.payload)[1].value), -7);
  EXPECT_DOUBLE_EQ(std::get<double>((*ev.payload)[2].value), 2.5);
  EXPECT_EQ(std::get<std::string>((*ev.payload)[3].value), "forest");
  EXPECT_TRUE(std::holds_alternative<std::monostate>((*ev.payload)[4].value));
}

TEST(Codec, ParamsPresenceFollowsSetMask) {
  Params p;
  p.guidance_scale = 0.0f;  // explicitly zero: still "set"
  p.similarity_filter_enabled = false;
  EXPECT_EQ(p.SetMask(), 1u | 16u);
  Message back;
  const auto bytes = MustEncode(p);
  ASSERT_TRUE(Decode(bytes.data(), bytes.size(), &back).ok());
  const auto& q = std::get<Params>(back);
  ASSERT_TRUE(q.guidance_scale.has_value());
  EXPECT_EQ(*q.guidance_scale, 0.0f);
  ASSERT_TRUE(q.similarity_filter_enabled.has_value());
  EXPECT_FALSE(*q.similarity_filter_enabled);
  EXPECT_FALSE(q.delta.has_value());
  EXPECT_FALSE(q.seed.has_value());
  EXPECT_FALSE(q.t_index_list.has_value());
}

TEST(Codec, ParamsMergeKeepsOlderFieldsAndTakesNewer) {
  Params a;
  a.guidance_scale = 1.0f;
  a.seed = 1;
  Params b;
  b.seed = 2;
  b.delta = 0.5f;
  a.MergeFrom(b);
  EXPECT_EQ(*a.guidance_scale, 1.0f);
  EXPECT_EQ(*a.seed, 2u);
  EXPECT_EQ(*a.delta, 0.5f);
}

TEST(Codec, AbsentStringsStayAbsent) {
  Hello h;  // nothing set
  Message back;
  const auto bytes = MustEncode(h);
  ASSERT_TRUE(Decode(bytes.data(), bytes.size(), &back).ok());
  const auto& g = std::get<Hello>(back);
  EXPECT_FALSE(g.client_name.has_value());
  EXPECT_FALSE(g.pixel_formats.has_value());
}

TEST(Codec, WrongIdentifierNamesBothIdentifiers) {
  auto bytes = MustEncode(Ping{1, 2});
  std::memcpy(bytes.data() + 4, "SDB2", 4);
  Message back;
  Status s = Decode(bytes.data(), bytes.size(), &back);
  EXPECT_EQ(s.code(), StatusCode::kMalformed);
  EXPECT_NE(s.message().find("'SDB2'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("'SDB1'"), std::string::npos) << s.message();
  EXPECT_EQ(s.wire_error(), WireError::kWrongIdentifier);  // callers decide on the code, not on the text
}

// stream_params.h is generated from the server's parameter registry (python_server/sdbridge/params.py);
// `python schemas/codegen.py --check` keeps it fresh, this pins that its ranges behave as the registry says.
TEST(StreamParams, RangesAreTheRegistrys) {
  using namespace stream_params;
  EXPECT_STREQ(GuidanceScale::kName, "guidance_scale");
  EXPECT_STREQ(GuidanceScale::kFieldPath, "Params.guidance_scale");
  EXPECT_TRUE(GuidanceScale::InRange(GuidanceScale::kMaximum));
  EXPECT_FALSE(GuidanceScale::InRange(GuidanceScale::kMaximum + 1.0f));
  EXPECT_FALSE(GuidanceScale::InRange(std::numeric_limits<float>::quiet_NaN()));
  EXPECT_TRUE(TIndexList::InRange(49));
  EXPECT_FALSE(TIndexList::InRange(50));
  EXPECT_STREQ(TIndexList::kMaxItemsKey, "max_t_index_list");
  EXPECT_TRUE(SimilarityThreshold::kMaximumExclusive);
  EXPECT_FALSE(SimilarityThreshold::InRange(1.0f));  // [0, 1): 1 itself is refused
  EXPECT_GE(std::size(kNames), 8u);
}

TEST(Codec, DecodeFailuresCarryTheProtocolErrorCode) {
  Message back;
  const uint8_t short_part[4] = {0, 0, 0, 0};
  EXPECT_EQ(Decode(short_part, sizeof(short_part), &back).wire_error(), WireError::kTruncated);
  auto bytes = MustEncode(Ping{1, 2});
  std::vector<uint8_t> corrupt(bytes.begin(), bytes.end());
  corrupt[0] = 0xff;  // root offset far outside the buffer
  EXPECT_EQ(Decode(corrupt.data(), corrupt.size(), &back).wire_error(), WireError::kBadMessage);
  EXPECT_EQ(Decode(bytes.data(), bytes.size(), &back).wire_error(), WireError::kUnknown);  // ok: no code
  EXPECT_TRUE(IsSessionGone(WireError::kSessionExpired) && IsSessionGone(WireError::kUnknownSession) &&
              IsSessionGone(WireError::kNotHello) && !IsSessionGone(WireError::kBadParam));
}

TEST(Codec, TooShortAndNullAreMalformed) {
  Message back;
  const uint8_t tiny[4] = {1, 2, 3, 4};
  EXPECT_EQ(Decode(tiny, sizeof(tiny), &back).code(), StatusCode::kMalformed);
  EXPECT_EQ(Decode(nullptr, 0, &back).code(), StatusCode::kMalformed);
  EXPECT_EQ(Decode(tiny, sizeof(tiny), nullptr).code(), StatusCode::kInvalidArgument);
}

TEST(Codec, OversizeMessageRefusedBeforeParsing) {
  auto bytes = MustEncode(Ping{1, 2});
  DecodeLimits limits;
  limits.max_message_bytes = bytes.size() - 1;
  Message back;
  Status s = Decode(bytes.data(), bytes.size(), &back, limits);
  EXPECT_EQ(s.code(), StatusCode::kMalformed);
  EXPECT_NE(s.message().find("limit"), std::string::npos);
}

TEST(Codec, EveryTruncationIsRejectedOrLosesNothing) {
  for (const Message& m : AllSampleMessages()) {
    const auto bytes = MustEncode(m);
    size_t rejected = 0;
    for (size_t n = 0; n < bytes.size(); ++n) {
      std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      Message back;
      Status s = Decode(cut.data(), cut.size(), &back);
      if (!s.ok()) {
        ++rejected;
        EXPECT_EQ(s.code(), StatusCode::kMalformed);
      } else {
        // Only trailing alignment padding may be cut: the message must be intact.
        EXPECT_EQ(MustEncode(back), bytes) << MessageName(m) << " cut to " << n << " bytes decoded differently";
      }
    }
    EXPECT_GE(rejected + 8, bytes.size()) << MessageName(m);  // at most a few padding bytes
  }
}

TEST(Codec, RandomAndMutatedBytesNeverCrash) {
  std::mt19937 rng(1234);
  const auto all = AllSampleMessages();
  size_t rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> bytes;
    if (i % 2 == 0) {
      bytes.resize(rng() % 200);
      for (auto& b : bytes) b = static_cast<uint8_t>(rng());
      if (bytes.size() >= 8 && i % 4 == 0) std::memcpy(bytes.data() + 4, "SDB1", 4);
    } else {
      bytes = MustEncode(all[rng() % all.size()]);
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
    }
    Message back;
    Status s = Decode(bytes.data(), bytes.size(), &back);
    if (!s.ok()) {
      ++rejected;
      EXPECT_EQ(s.code(), StatusCode::kMalformed);
      EXPECT_FALSE(s.message().empty());
    }
  }
  EXPECT_GT(rejected, 10000u);  // garbage is overwhelmingly refused, never crashes (ASan/UBSan in CI)
}

TEST(Codec, UnalignedInputIsDecoded) {
  const auto bytes = MustEncode(AllSampleMessages()[1]);  // Welcome
  std::vector<uint8_t> shifted(bytes.size() + 1);
  std::memcpy(shifted.data() + 1, bytes.data(), bytes.size());
  Message back;
  Status s = Decode(shifted.data() + 1, bytes.size(), &back);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(std::get<Welcome>(back).session_id, 0x1122334455667788ull);
}

TEST(Codec, ExpectedPixelBytesChecksEveryLimit) {
  size_t n = 0;
  PixelLayout l{4, 2, 16, PixelFormat::kRGBA8, RowOrder::kTopDown, ColorSpace::kSRGB, AlphaMode::kIgnore};
  ASSERT_TRUE(ExpectedPixelBytes(l, &n).ok());
  EXPECT_EQ(n, 32u);
  l.stride = 20;  // padded rows are fine
  ASSERT_TRUE(ExpectedPixelBytes(l, &n).ok());
  EXPECT_EQ(n, 40u);
  l.stride = 15;
  Status s = ExpectedPixelBytes(l, &n);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("stride 15"), std::string::npos) << s.message();
  l.stride = 16;
  l.width = 0;
  EXPECT_FALSE(ExpectedPixelBytes(l, &n).ok());
  l.width = 9000;
  l.stride = 36000;
  s = ExpectedPixelBytes(l, &n);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("8192"), std::string::npos) << s.message();
  l = PixelLayout{4, 2, 16, PixelFormat::kUnknown, RowOrder::kTopDown, ColorSpace::kSRGB, AlphaMode::kIgnore};
  EXPECT_FALSE(ExpectedPixelBytes(l, &n).ok());
  l.format = PixelFormat::kRGB8;
  l.stride = 12;
  ASSERT_TRUE(ExpectedPixelBytes(l, &n).ok());
  EXPECT_EQ(n, 24u);
}

}  // namespace
}  // namespace sdbridge
