// Golden bytes both ways: the values listed in schemas/golden/README.md encode to exactly the
// committed .bin files (made by `flatc -b` from the .json beside them), and those files decode to
// exactly those values.
#include <gtest/gtest.h>

#include "golden_io.h"
#include "sdbridge/codec.h"

namespace sdbridge {
namespace {

using testing::DecodeGolden;
using testing::ExpectEncodesTo;
using testing::GoldenFrame;
using testing::GoldenLayout;
using testing::GoldenWelcome;
using testing::ReadGolden;
constexpr uint64_t kSession = testing::kGoldenSession;

// The fields a Frame and a Result share.
void ExpectSameImage(const ImageHeader& got, const ImageHeader& want) {
  EXPECT_EQ(got.session_id, want.session_id);
  EXPECT_EQ(got.stream_id, want.stream_id);
  EXPECT_EQ(got.frame_id, want.frame_id);
  EXPECT_EQ(got.layout.width, want.layout.width);
  EXPECT_EQ(got.layout.height, want.layout.height);
  EXPECT_EQ(got.layout.stride, want.layout.stride);
  EXPECT_EQ(got.layout.format, want.layout.format);
  EXPECT_EQ(got.layout.row_order, want.layout.row_order);
  EXPECT_EQ(got.layout.color_space, want.layout.color_space);
  EXPECT_EQ(got.layout.alpha_mode, want.layout.alpha_mode);
  EXPECT_EQ(got.capture_time_us, want.capture_time_us);
  EXPECT_EQ(got.send_time_us, want.send_time_us);
}

void ExpectGoldenPixels(const std::string& name, const PixelLayout& layout) {
  const auto px = ReadGolden(name);
  size_t expected = 0;
  ASSERT_TRUE(ExpectedPixelBytes(layout, &expected).ok());
  ASSERT_EQ(px.size(), expected) << name;
  for (size_t k = 0; k < px.size(); ++k) ASSERT_EQ(px[k], static_cast<uint8_t>((k * 37 + 11) % 256)) << name << " byte " << k;
}

// ------------------------------------------------------------------ expected values

Hello GoldenHello() {
  Hello h;
  h.protocol_major = 1;
  h.protocol_minor = 0;
  h.client_name = "golden-client";
  h.client_version = "0.1.0";
  h.engine_name = "Unity";
  h.engine_version = "2022.3.10f1";
  h.capabilities = 255;
  h.pixel_formats = std::vector<PixelFormat>{PixelFormat::kRGBA8, PixelFormat::kBGRA8, PixelFormat::kRGB8};
  return h;
}

// frame_rgba8.json, frame_bgra8.json and frame_rgb8.json: the golden frame in each pixel format.
FrameHeader GoldenRgba8() { return GoldenFrame(1234567890123ull); }  // RGBA8, top-down, sRGB, alpha ignored
FrameHeader GoldenBgra8() {
  return GoldenFrame(2, GoldenLayout(PixelFormat::kBGRA8, RowOrder::kBottomUp, ColorSpace::kLinear,
                                     AlphaMode::kPremultiplied));
}
FrameHeader GoldenRgb8() {
  return GoldenFrame(3, GoldenLayout(PixelFormat::kRGB8, RowOrder::kTopDown, ColorSpace::kSRGB, AlphaMode::kStraight));
}

ErrorMessage GoldenError() {
  ErrorMessage e;
  e.code = WireError::kBadPixelSize;
  e.message = "pixel part has 31 bytes but stride x height = 16 x 2 = 32 bytes";
  e.field = "Frame.stride";
  e.frame_id = 42;
  e.has_frame_id = true;
  e.session_closed = false;
  return e;
}

ResultHeader GoldenResult() {
  ResultHeader r;
  r.session_id = kSession;
  r.stream_id = 1;
  r.frame_id = 1234567890123ull;
  r.layout = GoldenLayout();  // RGBA8, top-down, sRGB, alpha ignored
  r.capture_time_us = 1700000000000000ull;
  r.send_time_us = 1700000000000250ull;
  r.queue_wait_us = 120;
  r.inference_us = 45000;
  r.encode_us = 300;
  r.is_warmup = true;
  r.skipped = false;
  r.source_frame_id = 1234567890122ull;
  r.credits_granted = 1;
  return r;
}

Prompt GoldenPrompt() {
  Prompt p;
  p.text = "a watercolor castle";
  p.negative = "blurry, low quality";
  p.blend = std::vector<PromptWeight>{{"a watercolor castle", 0.75f}, {"a neon city at night", 0.25f}};
  p.transition_frames = 30;
  p.transition_seconds = 0.5f;
  p.method = BlendMethod::kSlerp;
  p.stream_id = 1;
  return p;
}

Params GoldenParams() {
  Params p;
  p.guidance_scale = 1.25f;
  p.delta = 0.5f;
  p.t_index_list = std::vector<int32_t>{32, 45};
  p.seed = 2;
  p.similarity_filter_enabled = true;
  p.similarity_threshold = 0.875f;
  p.similarity_max_skip = 10;
  p.seed_blend = std::vector<SeedWeight>{{2, 0.75f}, {3, 0.25f}};
  p.stream_id = 1;
  return p;
}

Params GoldenParamsPartial() {
  Params p;
  p.guidance_scale = 1.25f;
  p.seed = 0;
  return p;
}

GameEvent GoldenGameEvent() {
  GameEvent e;
  e.name = "enter_zone";
  e.payload = std::vector<KeyValue>{{"biome", Value(std::string("forest"))},
                                    {"danger", Value(int64_t{-3})},
                                    {"fog", Value(0.25)},
                                    {"night", Value(true)}};
  e.client_time_us = 1700000000001000ull;
  e.frame_id = 99;
  return e;
}

State GoldenState() {
  State s;
  s.entries = std::vector<KeyValue>{{"health", Value(int64_t{75})}, {"weather", Value(std::string("rain"))}};
  s.replace_all = true;
  s.client_time_us = 1700000000002000ull;
  return s;
}

Stats GoldenStats() {
  Stats s;
  s.request_id = 7;
  s.session_id = kSession;
  s.frames_in = 1000;
  s.frames_out = 990;
  s.frames_dropped = 8;
  s.frames_skipped = 2;
  s.fps_in = 60.0f;
  s.fps_out = 59.5f;
  s.latency_p50_us = 16000;
  s.latency_p99_us = 33000;
  s.inference_p50_us = 12000;
  s.uptime_s = 17.25f;
  return s;
}

Notice GoldenNotice() {
  Notice n;
  n.kind = NoticeKind::kPromptChanged;
  n.message = "prompt changed by the preview page";
  n.source = "preview";
  Prompt p;
  p.text = "a snowy forest";
  p.negative = "people";
  n.prompt = p;
  return n;
}

// protocol 1.1: Notice.preview_url (notice_preview.json)
constexpr const char* kPreviewUrl = "http://127.0.0.1:8765/?session=81985529216486895&token=abc";

Notice GoldenNoticePreview() {
  Notice n;
  n.kind = NoticeKind::kInfo;
  n.message = std::string("preview page: ") + kPreviewUrl;
  n.source = "preview";
  n.preview_url = kPreviewUrl;
  return n;
}

void ExpectSameKeyValues(const std::optional<std::vector<KeyValue>>& got, const std::vector<KeyValue>& want) {
  ASSERT_TRUE(got.has_value());
  ASSERT_EQ(got->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ((*got)[i].key, want[i].key);
    EXPECT_EQ((*got)[i].value, want[i].value) << want[i].key;
  }
}

void ExpectSamePrompt(const Prompt& got, const Prompt& want) {
  EXPECT_EQ(got.text, want.text);
  EXPECT_EQ(got.negative, want.negative);
  ASSERT_EQ(got.blend.has_value(), want.blend.has_value());
  if (want.blend) {
    ASSERT_EQ(got.blend->size(), want.blend->size());
    for (size_t i = 0; i < want.blend->size(); ++i) {
      EXPECT_EQ((*got.blend)[i].text, (*want.blend)[i].text);
      EXPECT_EQ((*got.blend)[i].weight, (*want.blend)[i].weight);
    }
  }
  EXPECT_EQ(got.transition_frames, want.transition_frames);
  EXPECT_EQ(got.transition_seconds, want.transition_seconds);
  EXPECT_EQ(got.method, want.method);
  EXPECT_EQ(got.stream_id, want.stream_id);
}

void ExpectSameParams(const Params& got, const Params& want) {
  EXPECT_EQ(got.SetMask(), want.SetMask());
  EXPECT_EQ(got.guidance_scale, want.guidance_scale);
  EXPECT_EQ(got.delta, want.delta);
  EXPECT_EQ(got.t_index_list, want.t_index_list);
  EXPECT_EQ(got.seed, want.seed);
  EXPECT_EQ(got.similarity_filter_enabled, want.similarity_filter_enabled);
  EXPECT_EQ(got.similarity_threshold, want.similarity_threshold);
  EXPECT_EQ(got.similarity_max_skip, want.similarity_max_skip);
  ASSERT_EQ(got.seed_blend.has_value(), want.seed_blend.has_value());
  if (want.seed_blend) {
    ASSERT_EQ(got.seed_blend->size(), want.seed_blend->size());
    for (size_t i = 0; i < want.seed_blend->size(); ++i) {
      EXPECT_EQ((*got.seed_blend)[i].seed, (*want.seed_blend)[i].seed);
      EXPECT_EQ((*got.seed_blend)[i].weight, (*want.seed_blend)[i].weight);
    }
  }
  EXPECT_EQ(got.stream_id, want.stream_id);
}

// ------------------------------------------------------------------ encode: values -> golden bytes

TEST(GoldenEncode, Hello) { ExpectEncodesTo(GoldenHello(), "hello.bin"); }
TEST(GoldenEncode, Welcome) { ExpectEncodesTo(GoldenWelcome(), "welcome.bin"); }
TEST(GoldenEncode, Error) { ExpectEncodesTo(GoldenError(), "error.bin"); }
TEST(GoldenEncode, FrameRgba8) { ExpectEncodesTo(GoldenRgba8(), "frame_rgba8.bin"); }
TEST(GoldenEncode, FrameBgra8) { ExpectEncodesTo(GoldenBgra8(), "frame_bgra8.bin"); }
TEST(GoldenEncode, FrameRgb8) { ExpectEncodesTo(GoldenRgb8(), "frame_rgb8.bin"); }
TEST(GoldenEncode, Result) { ExpectEncodesTo(GoldenResult(), "result_rgba8.bin"); }
TEST(GoldenEncode, Prompt) { ExpectEncodesTo(GoldenPrompt(), "prompt.bin"); }
TEST(GoldenEncode, Params) { ExpectEncodesTo(GoldenParams(), "params.bin"); }
TEST(GoldenEncode, ParamsPartial) { ExpectEncodesTo(GoldenParamsPartial(), "params_partial.bin"); }
TEST(GoldenEncode, ParamsTxt2img) {  // protocol 1.2
  Params m;
  m.seed = 7;
  m.cfg_mode = CfgMode::kSelf;
  m.txt2img = true;
  EXPECT_EQ(m.SetMask(), 776u);
  ExpectEncodesTo(m, "params_txt2img.bin");
}
TEST(GoldenEncode, GameEvent) { ExpectEncodesTo(GoldenGameEvent(), "game_event.bin"); }
TEST(GoldenEncode, State) { ExpectEncodesTo(GoldenState(), "state.bin"); }
TEST(GoldenEncode, StatsRequest) { ExpectEncodesTo(StatsRequest{7}, "stats_request.bin"); }
TEST(GoldenEncode, Stats) { ExpectEncodesTo(GoldenStats(), "stats.bin"); }
TEST(GoldenEncode, Bye) { ExpectEncodesTo(Bye{std::string("client closing")}, "bye.bin"); }
TEST(GoldenEncode, Notice) { ExpectEncodesTo(GoldenNotice(), "notice.bin"); }
TEST(GoldenEncode, NoticePreview) { ExpectEncodesTo(GoldenNoticePreview(), "notice_preview.bin"); }
TEST(GoldenEncode, Credit) { ExpectEncodesTo(Credit{1}, "credit.bin"); }
TEST(GoldenEncode, Ping) { ExpectEncodesTo(Ping{5, 1700000000003000ull}, "ping.bin"); }
TEST(GoldenEncode, Pong) { ExpectEncodesTo(Pong{5, 1700000000003000ull, 1700000000003100ull}, "pong.bin"); }

// ------------------------------------------------------------------ decode: golden bytes -> values

TEST(GoldenDecode, Hello) {
  const Hello got = DecodeGolden<Hello>("hello.bin");
  const Hello want = GoldenHello();
  EXPECT_EQ(got.protocol_major, want.protocol_major);
  EXPECT_EQ(got.protocol_minor, want.protocol_minor);
  EXPECT_EQ(got.client_name, want.client_name);
  EXPECT_EQ(got.client_version, want.client_version);
  EXPECT_EQ(got.engine_name, want.engine_name);
  EXPECT_EQ(got.engine_version, want.engine_version);
  EXPECT_EQ(got.capabilities, want.capabilities);
  EXPECT_EQ(got.pixel_formats, want.pixel_formats);
}

TEST(GoldenDecode, Welcome) {
  const Welcome got = DecodeGolden<Welcome>("welcome.bin");
  const Welcome want = GoldenWelcome();
  EXPECT_EQ(got.session_id, want.session_id);
  EXPECT_EQ(got.protocol_major, want.protocol_major);
  EXPECT_EQ(got.protocol_minor, want.protocol_minor);
  EXPECT_EQ(got.server_version, want.server_version);
  EXPECT_EQ(got.capabilities, want.capabilities);
  EXPECT_EQ(got.initial_credits, want.initial_credits);
  EXPECT_EQ(got.max_width, want.max_width);
  EXPECT_EQ(got.max_height, want.max_height);
  EXPECT_EQ(got.max_message_bytes, want.max_message_bytes);
  EXPECT_EQ(got.latency_frames, want.latency_frames);
  ASSERT_TRUE(got.model.has_value());
  EXPECT_EQ(got.model->name, "tiny");
  EXPECT_EQ(got.model->family, ModelFamily::kSD15);
  EXPECT_EQ(got.model->width, 256u);
  EXPECT_EQ(got.model->height, 256u);
  EXPECT_EQ(got.heartbeat_interval_ms, want.heartbeat_interval_ms);
  EXPECT_EQ(got.pixel_formats, want.pixel_formats);
  EXPECT_EQ(got.warning, want.warning);
}

TEST(GoldenDecode, Error) {
  const ErrorMessage got = DecodeGolden<ErrorMessage>("error.bin");
  const ErrorMessage want = GoldenError();
  EXPECT_EQ(got.code, want.code);
  EXPECT_EQ(got.message, want.message);
  EXPECT_EQ(got.field, want.field);
  EXPECT_EQ(got.frame_id, want.frame_id);
  EXPECT_EQ(got.has_frame_id, want.has_frame_id);
  EXPECT_EQ(got.session_closed, want.session_closed);
}

TEST(GoldenDecode, FramesAndPixels) {
  const FrameHeader rgba = GoldenRgba8();
  const FrameHeader bgra = GoldenBgra8();
  const FrameHeader rgb = GoldenRgb8();
  ExpectSameImage(DecodeGolden<FrameHeader>("frame_rgba8.bin"), rgba);
  ExpectSameImage(DecodeGolden<FrameHeader>("frame_bgra8.bin"), bgra);
  ExpectSameImage(DecodeGolden<FrameHeader>("frame_rgb8.bin"), rgb);
  ExpectGoldenPixels("frame_rgba8.pixels.bin", rgba.layout);
  ExpectGoldenPixels("frame_bgra8.pixels.bin", bgra.layout);
  ExpectGoldenPixels("frame_rgb8.pixels.bin", rgb.layout);  // 12 pixel bytes + 4 padding per row
}

TEST(GoldenDecode, Result) {
  const ResultHeader got = DecodeGolden<ResultHeader>("result_rgba8.bin");
  const ResultHeader want = GoldenResult();
  ExpectSameImage(got, want);
  EXPECT_EQ(got.queue_wait_us, want.queue_wait_us);
  EXPECT_EQ(got.inference_us, want.inference_us);
  EXPECT_EQ(got.encode_us, want.encode_us);
  EXPECT_EQ(got.is_warmup, want.is_warmup);
  EXPECT_EQ(got.skipped, want.skipped);
  EXPECT_EQ(got.source_frame_id, want.source_frame_id);
  EXPECT_EQ(got.credits_granted, want.credits_granted);
  ExpectGoldenPixels("result_rgba8.pixels.bin", want.layout);
}

TEST(GoldenDecode, Prompt) { ExpectSamePrompt(DecodeGolden<Prompt>("prompt.bin"), GoldenPrompt()); }
TEST(GoldenDecode, Params) { ExpectSameParams(DecodeGolden<Params>("params.bin"), GoldenParams()); }
TEST(GoldenDecode, ParamsPartial) {
  const Params got = DecodeGolden<Params>("params_partial.bin");
  ExpectSameParams(got, GoldenParamsPartial());
  EXPECT_EQ(got.SetMask(), 9u);
  EXPECT_EQ(got.seed, std::optional<uint64_t>(0));  // set to 0, not absent
  EXPECT_FALSE(got.delta.has_value());
}
TEST(GoldenDecode, ParamsTxt2img) {
  const Params got = DecodeGolden<Params>("params_txt2img.bin");
  EXPECT_EQ(got.SetMask(), 776u);
  EXPECT_EQ(got.cfg_mode, std::optional<CfgMode>(CfgMode::kSelf));
  EXPECT_EQ(got.txt2img, std::optional<bool>(true));
  EXPECT_EQ(got.seed, std::optional<uint64_t>(7));
  EXPECT_FALSE(got.guidance_scale.has_value());
}

TEST(GoldenDecode, GameEvent) {
  const GameEvent got = DecodeGolden<GameEvent>("game_event.bin");
  const GameEvent want = GoldenGameEvent();
  EXPECT_EQ(got.name, want.name);
  ExpectSameKeyValues(got.payload, *want.payload);
  EXPECT_EQ(got.client_time_us, want.client_time_us);
  EXPECT_EQ(got.frame_id, want.frame_id);
}

TEST(GoldenDecode, State) {
  const State got = DecodeGolden<State>("state.bin");
  const State want = GoldenState();
  ExpectSameKeyValues(got.entries, *want.entries);
  EXPECT_EQ(got.replace_all, want.replace_all);
  EXPECT_EQ(got.client_time_us, want.client_time_us);
}

TEST(GoldenDecode, StatsRequestAndStats) {
  EXPECT_EQ(DecodeGolden<StatsRequest>("stats_request.bin").request_id, 7u);
  const Stats got = DecodeGolden<Stats>("stats.bin");
  const Stats want = GoldenStats();
  EXPECT_EQ(got.request_id, want.request_id);
  EXPECT_EQ(got.session_id, want.session_id);
  EXPECT_EQ(got.frames_in, want.frames_in);
  EXPECT_EQ(got.frames_out, want.frames_out);
  EXPECT_EQ(got.frames_dropped, want.frames_dropped);
  EXPECT_EQ(got.frames_skipped, want.frames_skipped);
  EXPECT_EQ(got.fps_in, want.fps_in);
  EXPECT_EQ(got.fps_out, want.fps_out);
  EXPECT_EQ(got.latency_p50_us, want.latency_p50_us);
  EXPECT_EQ(got.latency_p99_us, want.latency_p99_us);
  EXPECT_EQ(got.inference_p50_us, want.inference_p50_us);
  EXPECT_EQ(got.uptime_s, want.uptime_s);
}

TEST(GoldenDecode, ByeNoticeCreditPingPong) {
  EXPECT_EQ(DecodeGolden<Bye>("bye.bin").reason, std::optional<std::string>("client closing"));
  const Notice n = DecodeGolden<Notice>("notice.bin");
  EXPECT_EQ(n.kind, NoticeKind::kPromptChanged);
  EXPECT_EQ(n.message, GoldenNotice().message);
  EXPECT_EQ(n.source, GoldenNotice().source);
  ASSERT_TRUE(n.prompt.has_value());
  ExpectSamePrompt(*n.prompt, *GoldenNotice().prompt);
  EXPECT_FALSE(n.params.has_value());
  EXPECT_FALSE(n.preview_url.has_value());
  const Notice np = DecodeGolden<Notice>("notice_preview.bin");
  EXPECT_EQ(np.kind, NoticeKind::kInfo);
  EXPECT_EQ(np.message, GoldenNoticePreview().message);
  EXPECT_EQ(np.preview_url, std::optional<std::string>(kPreviewUrl));
  EXPECT_EQ(DecodeGolden<Credit>("credit.bin").granted, 1u);
  const Ping ping = DecodeGolden<Ping>("ping.bin");
  EXPECT_EQ(ping.nonce, 5u);
  EXPECT_EQ(ping.client_time_us, 1700000000003000ull);
  const Pong pong = DecodeGolden<Pong>("pong.bin");
  EXPECT_EQ(pong.nonce, 5u);
  EXPECT_EQ(pong.client_time_us, 1700000000003000ull);
  EXPECT_EQ(pong.server_time_us, 1700000000003100ull);
}

TEST(GoldenDecode, EveryGoldenFileReencodesIdentically) {
  for (const char* name : {"hello.bin", "welcome.bin", "error.bin", "frame_rgba8.bin", "frame_bgra8.bin",
                           "frame_rgb8.bin", "result_rgba8.bin", "prompt.bin", "params.bin", "params_partial.bin",
                           "game_event.bin", "state.bin", "stats_request.bin", "stats.bin", "bye.bin", "notice.bin",
                           "notice_preview.bin", "credit.bin", "ping.bin", "pong.bin"}) {
    const auto golden = ReadGolden(name);
    Message m;
    ASSERT_TRUE(Decode(golden.data(), golden.size(), &m).ok()) << name;
    std::vector<uint8_t> again;
    ASSERT_TRUE(Encode(m, &again).ok()) << name;
    EXPECT_EQ(again, golden) << name;
  }
}

}  // namespace
}  // namespace sdbridge
