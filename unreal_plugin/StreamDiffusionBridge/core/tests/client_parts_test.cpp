// The parts sdbridge::Client is built from, tested on their own without a socket: what a server Error
// does to the session (client_messages), frame validation, and the shared state's one-frame-per-stream
// slot, credit reservation and reconnect replay (client_shared).
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "client_messages.h"
#include "client_shared.h"

namespace sdbridge {
namespace client_internal {
namespace {

ErrorMessage Err(WireError code, bool session_closed = false) {
  ErrorMessage e;
  e.code = code;
  e.message = std::string("why");
  e.session_closed = session_closed;
  return e;
}

TEST(ClientMessages, ServerErrorsDecideHowTheSessionEnds) {
  ClientConfig config;
  ErrorOutcome version = ClassifyServerError(Err(WireError::kVersionMismatch), false, config);
  EXPECT_EQ(version.end, SessionEnd::kRefused);
  EXPECT_EQ(version.event.status, StatusCode::kVersionMismatch);
  EXPECT_NE(version.event.message.find(config.endpoint), std::string::npos);

  ErrorOutcome gone = ClassifyServerError(Err(WireError::kUnknownSession), true, config);
  EXPECT_EQ(gone.end, SessionEnd::kRetry);
  EXPECT_EQ(gone.event.status, StatusCode::kNotConnected);
  // set_unknown_connection (NotHello, UnknownSession): a connection re-made to a server without our session is a
  // move, reported as kDisconnected; an expired session (SessionExpired) stays an error
  EXPECT_EQ(gone.event.kind, ClientEventKind::kDisconnected);
  EXPECT_NE(gone.event.message.find("reconnecting with a new Hello"), std::string::npos);
  ErrorOutcome moved = ClassifyServerError(Err(WireError::kNotHello), true, config);
  EXPECT_EQ(moved.event.kind, ClientEventKind::kDisconnected);
  ASSERT_TRUE(moved.event.error.has_value());
  ErrorOutcome expired = ClassifyServerError(Err(WireError::kSessionExpired), true, config);
  EXPECT_EQ(expired.end, SessionEnd::kRetry);
  EXPECT_EQ(expired.event.kind, ClientEventKind::kError);

  ErrorOutcome bad_value = ClassifyServerError(Err(WireError::kUnknown), true, config);
  EXPECT_EQ(bad_value.end, SessionEnd::kNone) << "a refused message keeps the session";
  EXPECT_EQ(bad_value.event.status, StatusCode::kInvalidArgument);
  ASSERT_TRUE(bad_value.event.error.has_value());

  EXPECT_EQ(ClassifyServerError(Err(WireError::kUnknown, true), true, config).end, SessionEnd::kRetry);
  // A refused Hello is retried only for capacity (set_capacity_refusal: SessionLimit), on the wire code alone.
  ErrorOutcome full = ClassifyServerError(Err(WireError::kSessionLimit, true), false, config);
  EXPECT_EQ(full.end, SessionEnd::kRetry);
  EXPECT_EQ(full.event.status, StatusCode::kRefused);
  for (WireError code : {WireError::kUnknown, WireError::kBadParam, WireError::kInternal, WireError::kNotHello,
                         WireError::kUnknownSession, WireError::kTooLarge}) {
    ErrorOutcome refused = ClassifyServerError(Err(code, true), false, config);
    EXPECT_EQ(refused.end, SessionEnd::kRefused) << static_cast<unsigned>(code);
    EXPECT_EQ(refused.event.status, StatusCode::kRefused);
    EXPECT_EQ(refused.event.wire_error, code);
    EXPECT_NE(refused.event.message.find("Reconnect()"), std::string::npos) << refused.event.message;
  }
}

TEST(ClientMessages, FrameValidationNamesTheNumbers) {
  std::vector<uint8_t> px(4 * 4 * 4 - 1);
  FrameView f;
  f.pixels = px.data();
  f.size = px.size();
  f.layout = PixelLayout{4, 4, 16, PixelFormat::kRGBA8, RowOrder::kTopDown, ColorSpace::kSRGB, AlphaMode::kIgnore};
  size_t expected = 0;
  Status s = ValidateFrame(f, DecodeLimits{}, &expected);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(expected, 64u);
  EXPECT_NE(s.message().find("63"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("64"), std::string::npos) << s.message();
  px.resize(64);
  f.pixels = px.data();
  f.size = px.size();
  EXPECT_TRUE(ValidateFrame(f, DecodeLimits{}, &expected).ok());
  f.layout.row_order = RowOrder::kUnknown;
  EXPECT_NE(ValidateFrame(f, DecodeLimits{}, &expected).message().find("row_order"), std::string::npos);
}

PendingFrame Frame(uint32_t stream, uint8_t fill) {
  PendingFrame f;
  f.header.stream_id = stream;
  f.pixels.assign(8, fill);
  return f;
}

TEST(ClientMessages, EnumParamsOutsideTheirMembersAreRefusedNamingFieldValueAndChoices) {
  // The generated checks (generated/params_check.inc): Unknown (0) and a number past the last member are refused.
  for (uint8_t raw : {uint8_t{0}, uint8_t{9}}) {
    Params p;
    p.cfg_mode = static_cast<CfgMode>(raw);
    const Status s = ValidateParams(p);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("Params.cfg_mode = " + std::to_string(raw) + "; use None, Self, Initialize or Full"),
              std::string::npos)
        << s.message();
  }
  Params full;
  full.cfg_mode = CfgMode::kFull;
  full.attention_bank_blocks = AttentionBankBlocks::kUp;
  EXPECT_TRUE(ValidateParams(full).ok()) << ValidateParams(full).message();
  Params blocks;
  blocks.attention_bank_blocks = static_cast<AttentionBankBlocks>(7);
  EXPECT_NE(ValidateParams(blocks).message().find("Params.attention_bank_blocks = 7; use All, Down, Mid or Up"),
            std::string::npos);
}

TEST(ClientMessages, ParamsMergeNamedWeightsByNameAndReplaceTheStyleBlend) {
  // The generated MergeFrom (generated/params_merge.inc), what a reconnect replays.
  Params old;
  old.lora_weights = std::vector<AdapterWeight>{{"ink", 0.5f}, {"film", 1.0f}};
  old.style_blend = std::vector<AdapterWeight>{{"oil", 1.0f}, {"sketch", 0.5f}};
  old.seed = 1;
  Params newer;
  newer.lora_weights = std::vector<AdapterWeight>{{"film", 0.25f}, {"neon", 2.0f}};
  newer.style_blend = std::vector<AdapterWeight>{{"sketch", 1.5f}};
  newer.stream_id = 3;
  old.MergeFrom(newer);
  ASSERT_EQ(old.lora_weights->size(), 3u);
  EXPECT_EQ((*old.lora_weights)[0].weight, 0.5f);
  EXPECT_EQ((*old.lora_weights)[1].weight, 0.25f);
  EXPECT_EQ((*old.lora_weights)[2].name, "neon");
  ASSERT_EQ(old.style_blend->size(), 1u);  // the server replaces the whole selection
  EXPECT_EQ((*old.style_blend)[0].name, "sketch");
  EXPECT_EQ(old.seed, std::optional<uint64_t>(1));
  EXPECT_EQ(old.stream_id, 3u);
  EXPECT_EQ(old.SetMask(), params_field::kLoraWeights | params_field::kStyleBlend | params_field::kSeed);
}

TEST(ClientShared, OneFramePerStreamAndTheOldestIsSentFirstWithACredit) {
  ClientConfig config;
  ClientShared s(config);
  s.state = ConnectionState::kConnecting;
  uint64_t a = 0, b = 0, c = 0;
  std::vector<uint8_t> replaced;
  ASSERT_TRUE(s.SubmitPending(Frame(1, 1), &a, &replaced).ok());
  EXPECT_TRUE(replaced.empty());
  ASSERT_TRUE(s.SubmitPending(Frame(2, 2), &b, &replaced).ok());
  ASSERT_TRUE(s.SubmitPending(Frame(1, 3), &c, &replaced).ok());
  EXPECT_EQ(replaced, std::vector<uint8_t>(8, 1)) << "the replaced frame's pixels come back for the pool";
  EXPECT_EQ(s.counters.frames_replaced, 1u);

  PendingFrame out;
  EXPECT_FALSE(s.TakeFrameToSend(&out)) << "no credit, nothing sent";
  s.counters.credits = 1;
  ASSERT_TRUE(s.TakeFrameToSend(&out));
  EXPECT_EQ(out.header.frame_id, b) << "stream 2's frame is older than stream 1's replacement";
  EXPECT_EQ(s.counters.credits, 0u) << "the credit is reserved when the frame is taken";

  s.ReturnUnsentFrame(std::move(out));
  EXPECT_EQ(s.counters.credits, 1u);
  ASSERT_TRUE(s.SubmitPending(Frame(2, 4), &b, &replaced).ok());
  PendingFrame stale = Frame(2, 9);
  stale.header.frame_id = 1;
  s.ReturnUnsentFrame(std::move(stale));
  EXPECT_EQ(s.pending.at(2).header.frame_id, b) << "a returned frame never replaces a newer one";

  s.state = ConnectionState::kStopped;
  uint64_t none = 0;
  EXPECT_EQ(s.SubmitPending(Frame(3, 5), &none, &replaced).code(), StatusCode::kStopped);
  EXPECT_EQ(replaced, std::vector<uint8_t>(8, 5));
}

TEST(ClientShared, OnlyAReconnectReplaysThePromptParamsAndState) {
  ClientConfig config;
  ClientShared s(config);
  Prompt p;
  p.text = std::string("castle");
  s.last_prompt = p;
  s.merged_params.emplace();
  s.merged_params->guidance_scale = 1.5f;
  KeyValue kv;
  kv.key = "k";
  s.state_vars["k"] = kv;
  Welcome w;
  w.initial_credits = 3;
  EXPECT_TRUE(s.OnWelcome(w).empty()) << "the first session has nothing to replay";
  EXPECT_EQ(s.counters.credits, 3u);
  EXPECT_EQ(s.OnWelcome(w).size(), 3u) << "prompt, params and state after a reconnect";
  config.replay_settings_on_reconnect = false;
  EXPECT_TRUE(s.OnWelcome(w).empty());
}

}  // namespace
}  // namespace client_internal
}  // namespace sdbridge
