// Protocol 1.4 in the C++ codec, both ways against flatc's golden bytes (schemas/golden/*.bin, values in their .json):
// Params with the ControlNet, temporal, IP-Adapter and style fields; the Welcome's capacity and wanted planes; the
// WantedPlanesChanged notice; StyleImage; Frame.scene_cut with and without planes. Plus lora_weights (protocol 1.2,
// no golden file) round trip, and the named-weight merge a reconnect replays.
#include <gtest/gtest.h>

#include "golden_io.h"
#include "sdbridge/codec.h"

namespace sdbridge {
namespace {

using testing::DecodeGolden;
using testing::ExpectEncodesTo;
using testing::ReadGolden;

void ExpectWeights(const std::optional<std::vector<AdapterWeight>>& got, const std::vector<AdapterWeight>& want,
                   const char* what) {
  ASSERT_TRUE(got.has_value()) << what;
  ASSERT_EQ(got->size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ((*got)[i].name, want[i].name) << what << " " << i;
    EXPECT_EQ((*got)[i].weight, want[i].weight) << what << " " << i;
  }
}

Params GoldenParamsV14() {
  Params p;
  p.controlnet_scale = std::vector<AdapterWeight>{{"depth", 0.75f}, {"canny", 1.25f}};
  p.controlnet_start = std::vector<AdapterWeight>{{"depth", 0.25f}};
  p.controlnet_end = std::vector<AdapterWeight>{{"depth", 0.875f}};
  p.latent_feedback = 0.25f;
  p.motion_warp = 0.5f;
  p.motion_warp_step = 1;
  p.scene_cut_threshold = 0.375f;
  p.ip_adapter_scale = 0.625f;
  p.style_blend = std::vector<AdapterWeight>{{"watercolor", 0.75f}, {"ink", 0.25f}};
  p.stream_id = 1;
  return p;
}

// welcome_capacity.json: welcome.json's server at protocol 1.4, with its capacity and the planes it wants.
Welcome GoldenWelcomeCapacity() {
  Welcome w = testing::GoldenWelcome();
  w.protocol_minor = 4;
  w.capabilities = 1619;
  w.warning.reset();
  w.sessions_open = 3;
  w.sessions_max = 8;
  w.wanted_planes = std::vector<PlaneKind>{PlaneKind::kDepth, PlaneKind::kMotion};
  return w;
}

Notice GoldenNoticeWantedPlanes() {
  Notice n;
  n.kind = NoticeKind::kWantedPlanesChanged;
  n.message = "the server now uses these planes: Depth, Motion";
  n.source = "params";
  n.wanted_planes = std::vector<PlaneKind>{PlaneKind::kDepth, PlaneKind::kMotion};
  return n;
}

StyleImage GoldenStyleImage() {
  StyleImage s;
  s.name = "watercolor";
  s.width = 4;
  s.height = 2;
  s.stride = 16;
  s.format = PixelFormat::kRGB8;
  s.row_order = RowOrder::kBottomUp;
  return s;
}

FrameHeader SceneCutFrame(uint64_t frame_id) {
  FrameHeader f = testing::GoldenFrame(frame_id);
  f.scene_cut = true;
  return f;
}

FrameHeader SceneCutFrameWithMotion() {
  FrameHeader f = SceneCutFrame(31);
  PlaneDesc motion = PlaneDesc::Packed(PlaneKind::kMotion, PlaneFormat::kRG16F, 4, 2);
  motion.motion_units = MotionUnits::kPixels;
  motion.motion_target = MotionTarget::kPrevious;
  f.planes.push_back(motion);
  return f;
}

TEST(GoldenV14, ParamsEncodeAndDecode) {
  ExpectEncodesTo(GoldenParamsV14(), "params_v14.bin");
  const Params p = DecodeGolden<Params>("params_v14.bin");
  EXPECT_EQ(p.SetMask(), 1046528u);
  ExpectWeights(p.controlnet_scale, {{"depth", 0.75f}, {"canny", 1.25f}}, "controlnet_scale");
  ExpectWeights(p.controlnet_start, {{"depth", 0.25f}}, "controlnet_start");
  ExpectWeights(p.controlnet_end, {{"depth", 0.875f}}, "controlnet_end");
  ExpectWeights(p.style_blend, {{"watercolor", 0.75f}, {"ink", 0.25f}}, "style_blend");
  EXPECT_EQ(p.latent_feedback.value_or(-1), 0.25f);
  EXPECT_EQ(p.motion_warp.value_or(-1), 0.5f);
  EXPECT_EQ(p.motion_warp_step.value_or(99), 1u);
  EXPECT_EQ(p.scene_cut_threshold.value_or(-1), 0.375f);
  EXPECT_EQ(p.ip_adapter_scale.value_or(-1), 0.625f);
  EXPECT_FALSE(p.guidance_scale.has_value());
  EXPECT_FALSE(p.lora_weights.has_value());
  EXPECT_EQ(p.stream_id, 1u);
}

TEST(GoldenV14, CachedAttentionParamsEncodeAndDecode) {
  Params m;
  m.attention_bank = 2;
  m.attention_bank_interval = 3;
  m.attention_bank_blocks = AttentionBankBlocks::kUp;
  m.feature_injection = 0.5f;
  m.feature_injection_threshold = 0.875f;
  m.stream_id = 1;
  ExpectEncodesTo(m, "params_v14_attention.bin");
  const Params p = DecodeGolden<Params>("params_v14_attention.bin");
  EXPECT_EQ(p.SetMask(), 32505856u);
  EXPECT_EQ(p.attention_bank.value_or(99), 2u);
  EXPECT_EQ(p.attention_bank_interval.value_or(99), 3u);
  EXPECT_EQ(p.attention_bank_blocks.value_or(AttentionBankBlocks::kUnknown), AttentionBankBlocks::kUp);
  EXPECT_EQ(p.feature_injection.value_or(-1), 0.5f);
  EXPECT_EQ(p.feature_injection_threshold.value_or(-1), 0.875f);
  EXPECT_FALSE(p.latent_feedback.has_value());
  const Params older = DecodeGolden<Params>("params_v14.bin");  // none of the knobs set: all left empty
  EXPECT_FALSE(older.attention_bank.has_value());
  EXPECT_FALSE(older.attention_bank_blocks.has_value());
  EXPECT_FALSE(older.feature_injection_threshold.has_value());
  Params merged = older;  // what a reconnect replays keeps them
  merged.MergeFrom(p);
  EXPECT_EQ(merged.attention_bank_blocks.value_or(AttentionBankBlocks::kUnknown), AttentionBankBlocks::kUp);
  EXPECT_EQ(merged.latent_feedback.value_or(-1), 0.25f);
}

TEST(GoldenV14, WelcomeCarriesCapacityAndWantedPlanes) {
  ExpectEncodesTo(GoldenWelcomeCapacity(), "welcome_capacity.bin");
  const Welcome w = DecodeGolden<Welcome>("welcome_capacity.bin");
  EXPECT_EQ(w.sessions_open, 3u);
  EXPECT_EQ(w.sessions_max, 8u);
  ASSERT_TRUE(w.wanted_planes.has_value());
  EXPECT_EQ(*w.wanted_planes, (std::vector<PlaneKind>{PlaneKind::kDepth, PlaneKind::kMotion}));
  EXPECT_EQ(w.capabilities & capability::kStyleImages, capability::kStyleImages);
  const Welcome old = DecodeGolden<Welcome>("welcome.bin");  // protocol 1.0: no capacity, no planes
  EXPECT_EQ(old.sessions_max, 0u);
  EXPECT_FALSE(old.wanted_planes.has_value());
}

TEST(GoldenV14, WantedPlanesNotice) {
  ExpectEncodesTo(GoldenNoticeWantedPlanes(), "notice_wanted_planes.bin");
  const Notice n = DecodeGolden<Notice>("notice_wanted_planes.bin");
  EXPECT_EQ(n.kind, NoticeKind::kWantedPlanesChanged);
  ASSERT_TRUE(n.wanted_planes.has_value());
  EXPECT_EQ(*n.wanted_planes, (std::vector<PlaneKind>{PlaneKind::kDepth, PlaneKind::kMotion}));
}

TEST(GoldenV14, StyleImageAndItsPixels) {
  ExpectEncodesTo(GoldenStyleImage(), "style_image.bin");
  const StyleImage s = DecodeGolden<StyleImage>("style_image.bin");
  EXPECT_EQ(s.name, "watercolor");
  EXPECT_EQ(s.width, 4u);
  EXPECT_EQ(s.height, 2u);
  EXPECT_EQ(s.stride, 16u);
  EXPECT_EQ(s.format, PixelFormat::kRGB8);
  EXPECT_EQ(s.row_order, RowOrder::kBottomUp);
  const auto px = ReadGolden("style_image.pixels.bin");
  EXPECT_EQ(px.size(), static_cast<size_t>(s.stride) * s.height);
}

TEST(GoldenV14, FrameSceneCut) {
  ExpectEncodesTo(SceneCutFrame(30), "frame_scene_cut.bin");
  ExpectEncodesTo(SceneCutFrameWithMotion(), "frame_scene_cut_planes.bin");
  const FrameHeader f = DecodeGolden<FrameHeader>("frame_scene_cut.bin");
  EXPECT_TRUE(f.scene_cut);
  EXPECT_EQ(f.frame_id, 30u);
  const FrameHeader g = DecodeGolden<FrameHeader>("frame_scene_cut_planes.bin");
  EXPECT_TRUE(g.scene_cut);
  ASSERT_EQ(g.planes.size(), 1u);
  EXPECT_EQ(g.planes[0].kind, PlaneKind::kMotion);
  EXPECT_FALSE(DecodeGolden<FrameHeader>("frame_rgba8.bin").scene_cut);
}

TEST(GoldenV15, WarpedBankParamEncodesAndDecodes) {  // protocol 1.5; a member generated from the schema
  Params m;
  m.attention_bank = 2;
  m.attention_bank_warp = true;
  m.stream_id = 1;
  ExpectEncodesTo(m, "params_v15.bin");
  const Params p = DecodeGolden<Params>("params_v15.bin");
  EXPECT_EQ(p.SetMask(), params_field::kAttentionBank | params_field::kAttentionBankWarp);
  EXPECT_TRUE(p.attention_bank_warp.value_or(false));
  EXPECT_EQ(p.attention_bank.value_or(99), 2u);
  EXPECT_FALSE(DecodeGolden<Params>("params_v14_attention.bin").attention_bank_warp.has_value());
}

TEST(GoldenV14, EveryNewGoldenFileReencodesIdentically) {
  for (const char* name : {"params_v14.bin", "welcome_capacity.bin", "notice_wanted_planes.bin", "style_image.bin",
                           "frame_scene_cut.bin", "frame_scene_cut_planes.bin", "params_txt2img.bin",
                           "params_v14_attention.bin", "params_v15.bin"}) {
    const auto golden = ReadGolden(name);
    Message m;
    ASSERT_TRUE(Decode(golden.data(), golden.size(), &m).ok()) << name;
    std::vector<uint8_t> again;
    ASSERT_TRUE(Encode(m, &again).ok()) << name;
    EXPECT_EQ(again, golden) << name;
  }
}

TEST(ParamsV14, LoraWeightsRoundTripAndNamedWeightsMerge) {
  Params p;
  p.lora_weights = std::vector<AdapterWeight>{{"ink_style", 0.5f}, {"pixel_art", 1.0f}};
  EXPECT_EQ(p.SetMask(), params_field::kLoraWeights);
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(Encode(p, &bytes).ok());
  Message m;
  ASSERT_TRUE(Decode(bytes.data(), bytes.size(), &m).ok());
  ExpectWeights(std::get<Params>(m).lora_weights, {{"ink_style", 0.5f}, {"pixel_art", 1.0f}}, "lora_weights");

  // Merging (what a reconnect replays): a named weight replaces its own name only; style_blend is a whole selection.
  Params later;
  later.lora_weights = std::vector<AdapterWeight>{{"pixel_art", 0.25f}, {"film", 0.75f}};
  later.controlnet_scale = std::vector<AdapterWeight>{{"depth", 0.5f}};
  later.style_blend = std::vector<AdapterWeight>{{"ink", 1.0f}};
  Params merged = GoldenParamsV14();
  merged.lora_weights = p.lora_weights;
  merged.MergeFrom(later);
  ExpectWeights(merged.lora_weights, {{"ink_style", 0.5f}, {"pixel_art", 0.25f}, {"film", 0.75f}}, "merged lora");
  ExpectWeights(merged.controlnet_scale, {{"depth", 0.5f}, {"canny", 1.25f}}, "merged controlnet_scale");
  ExpectWeights(merged.style_blend, {{"ink", 1.0f}}, "merged style_blend");
  EXPECT_EQ(merged.motion_warp.value_or(-1), 0.5f);
}

}  // namespace
}  // namespace sdbridge
