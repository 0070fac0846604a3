// Protocol 1.4 in the C++ client against a scripted in-process ROUTER (fake_server.h): SetParams with every new field
// and lora_weights, refused locally outside the registry ranges (generated/stream_params.h); SendStyleImage (header and
// pixels, the capability, bad images); a scene-cut frame; the Welcome's capacity and wanted planes, updated by a
// WantedPlanesChanged notice; a reconnect replaying the style images before the params whose style_blend names them;
// and the real Python server with the tiny model and the tiny IP-Adapter taking all of it and answering the frame.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "fake_server.h"
#include "python_server.h"
#include "sdbridge/client.h"
#include "test_config.h"

namespace sdbridge {
namespace {

using std::chrono::milliseconds;
using testing::FakeServer;
using testing::TestConfig;
constexpr milliseconds kWait{5000};

// ClientConfig's own peer_timeout (one test waits on the real server's tiny-model frames).
const testing::TestTimeouts kTimeouts = testing::TestTimeouts().Peer(ClientConfig{}.peer_timeout);

Welcome V14Welcome(uint64_t session) {
  Welcome w = FakeServer::MakeWelcome(session, 1);
  w.capabilities |= capability::kStyleImages | capability::kPlanes | capability::kNotices;
  w.sessions_open = 2;
  w.sessions_max = 4;
  w.wanted_planes = std::vector<PlaneKind>{PlaneKind::kDepth, PlaneKind::kMotion};
  return w;
}

std::string Connect(FakeServer& server, Client& client, const Welcome& welcome) {
  EXPECT_TRUE(client.Start().ok());
  FakeServer::Received got;
  EXPECT_TRUE(server.ReceiveOf<Hello>(&got, kWait));
  EXPECT_TRUE(std::get<Hello>(got.message).capabilities & capability::kStyleImages) << "offered in Hello";
  server.Send(got.identity, welcome);
  EXPECT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  return got.identity;
}

Params AllNewParams() {
  Params p;
  p.lora_weights = std::vector<AdapterWeight>{{"ink_style", 0.5f}};
  p.controlnet_scale = std::vector<AdapterWeight>{{"depth", 0.75f}};
  p.controlnet_start = std::vector<AdapterWeight>{{"depth", 0.25f}};
  p.controlnet_end = std::vector<AdapterWeight>{{"depth", 0.875f}};
  p.latent_feedback = 0.25f;
  p.motion_warp = 0.5f;
  p.motion_warp_step = 1;
  p.scene_cut_threshold = 0.375f;
  p.ip_adapter_scale = 0.625f;
  p.style_blend = std::vector<AdapterWeight>{{"watercolor", 1.0f}};
  return p;
}

std::vector<uint8_t> Rgb(uint32_t w, uint32_t h) {
  std::vector<uint8_t> px(static_cast<size_t>(w) * h * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 7);
  return px;
}

TEST(ClientV14, SetParamsSendsEveryNewFieldAndLoraWeights) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "v14_test", kTimeouts));
  Connect(server, client, V14Welcome(1));
  ASSERT_TRUE(client.SetParams(AllNewParams()).ok());
  FakeServer::Received got;
  ASSERT_TRUE(server.ReceiveOf<Params>(&got, kWait));
  const Params& p = std::get<Params>(got.message);
  EXPECT_EQ(p.SetMask(), AllNewParams().SetMask());
  ASSERT_TRUE(p.lora_weights && p.controlnet_scale && p.controlnet_start && p.controlnet_end && p.style_blend);
  EXPECT_EQ((*p.lora_weights)[0].name, "ink_style");
  EXPECT_EQ((*p.controlnet_end)[0].weight, 0.875f);
  EXPECT_EQ((*p.style_blend)[0].name, "watercolor");
  EXPECT_EQ(p.latent_feedback.value_or(-1), 0.25f);
  EXPECT_EQ(p.motion_warp.value_or(-1), 0.5f);
  EXPECT_EQ(p.motion_warp_step.value_or(99), 1u);
  EXPECT_EQ(p.scene_cut_threshold.value_or(-1), 0.375f);
  EXPECT_EQ(p.ip_adapter_scale.value_or(-1), 0.625f);
}

TEST(ClientV14, ParamsOutsideTheRegistryRangesAreRefusedNamingFieldValueAndRange) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "v14_test", kTimeouts));
  Connect(server, client, V14Welcome(1));
  Params feedback;
  feedback.latent_feedback = 0.75f;  // [0, 0.5]
  Status s = client.SetParams(feedback);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("Params.latent_feedback = 0.75 is outside [0, 0.5]"), std::string::npos) << s.message();
  Params nan_scale;
  nan_scale.ip_adapter_scale = std::numeric_limits<float>::quiet_NaN();
  s = client.SetParams(nan_scale);
  EXPECT_NE(s.message().find("Params.ip_adapter_scale = nan"), std::string::npos) << s.message();
  Params step;
  step.motion_warp_step = 50;  // [0, 49]
  EXPECT_NE(client.SetParams(step).message().find("Params.motion_warp_step = 50"), std::string::npos);
  Params weight;
  weight.controlnet_scale = std::vector<AdapterWeight>{{"depth", 1.0f}, {"canny", 2.5f}};  // [0, 2]
  s = client.SetParams(weight);
  EXPECT_NE(s.message().find("Params.controlnet_scale[1] (canny) = 2.5 is outside [0, 2]"), std::string::npos)
      << s.message();
  Params unnamed;
  unnamed.style_blend = std::vector<AdapterWeight>{{"", 0.5f}};
  EXPECT_NE(client.SetParams(unnamed).message().find("Params.style_blend[0].name is empty"), std::string::npos);
  Params lora;
  lora.lora_weights = std::vector<AdapterWeight>{{"ink_style", -2.5f}};  // [-2, 2]
  EXPECT_EQ(client.SetParams(lora).code(), StatusCode::kInvalidArgument);
  // Nothing refused reached the server; a good Params after them does (so one could have).
  Params good;
  good.motion_warp = 1.0f;
  ASSERT_TRUE(client.SetParams(good).ok());
  FakeServer::Received got;
  ASSERT_TRUE(server.ReceiveOf<Params>(&got, kWait));
  EXPECT_EQ(std::get<Params>(got.message).SetMask(), params_field::kMotionWarp);
}

TEST(ClientV14, CachedAttentionKnobsOutsideTheRegistryRangesAreRefused) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "v14_test", kTimeouts));
  Connect(server, client, V14Welcome(1));
  Params bank;
  bank.attention_bank = 9;  // [0, 8]
  Status s = client.SetParams(bank);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("Params.attention_bank = 9 is outside [0, 8]"), std::string::npos) << s.message();
  Params interval;
  interval.attention_bank_interval = 0;  // [1, 120]
  EXPECT_NE(client.SetParams(interval).message().find("Params.attention_bank_interval = 0 is outside [1, 120]"),
            std::string::npos);
  Params blocks;
  blocks.attention_bank_blocks = AttentionBankBlocks::kUnknown;
  EXPECT_NE(client.SetParams(blocks).message().find("Params.attention_bank_blocks = 0"), std::string::npos);
  blocks.attention_bank_blocks = static_cast<AttentionBankBlocks>(9);  // a number no build knows
  EXPECT_EQ(client.SetParams(blocks).code(), StatusCode::kInvalidArgument);
  Params injection;
  injection.feature_injection = 1.5f;  // [0, 1]
  EXPECT_NE(client.SetParams(injection).message().find("Params.feature_injection = 1.5 is outside [0, 1]"),
            std::string::npos);
  Params threshold;
  threshold.feature_injection_threshold = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NE(client.SetParams(threshold).message().find("Params.feature_injection_threshold = nan"), std::string::npos);
  // Nothing refused reached the server; good knobs after them do (so one could have).
  Params good;
  good.attention_bank = 8;
  good.attention_bank_interval = 120;
  good.attention_bank_blocks = AttentionBankBlocks::kMid;
  good.feature_injection = 1.0f;
  good.feature_injection_threshold = 0.0f;
  ASSERT_TRUE(client.SetParams(good).ok());
  FakeServer::Received got;
  ASSERT_TRUE(server.ReceiveOf<Params>(&got, kWait));
  const Params& sent = std::get<Params>(got.message);
  EXPECT_EQ(sent.SetMask(), params_field::kAttentionBank | params_field::kAttentionBankInterval |
                                params_field::kAttentionBankBlocks | params_field::kFeatureInjection |
                                params_field::kFeatureInjectionThreshold);
  EXPECT_EQ(sent.attention_bank_blocks.value_or(AttentionBankBlocks::kUnknown), AttentionBankBlocks::kMid);
  EXPECT_EQ(sent.attention_bank_interval.value_or(0), 120u);
}

TEST(ClientV14, StyleImageGoesWithItsPixelsAndBadImagesAreRefused) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "v14_test", kTimeouts));
  Connect(server, client, V14Welcome(1));
  const auto px = Rgb(4, 2);
  ASSERT_TRUE(client.SendStyleImage("watercolor", px.data(), px.size(), 4, 2, 12, PixelFormat::kRGB8).ok());
  FakeServer::Received got;
  ASSERT_TRUE(server.ReceiveOf<StyleImage>(&got, kWait));
  const StyleImage& s = std::get<StyleImage>(got.message);
  EXPECT_EQ(s.name, "watercolor");
  EXPECT_EQ(s.width, 4u);
  EXPECT_EQ(s.stride, 12u);
  EXPECT_EQ(s.format, PixelFormat::kRGB8);
  EXPECT_EQ(s.row_order, RowOrder::kTopDown);
  EXPECT_EQ(got.parts, 2u);
  EXPECT_EQ(got.pixels, px);

  Status bad = client.SendStyleImage("ink", px.data(), px.size() - 1, 4, 2, 12, PixelFormat::kRGB8);
  EXPECT_NE(bad.message().find("needs stride x height = 24"), std::string::npos) << bad.message();
  bad = client.SendStyleImage("", px.data(), px.size(), 4, 2, 12, PixelFormat::kRGB8);
  EXPECT_NE(bad.message().find("name is empty"), std::string::npos) << bad.message();
  bad = client.SendStyleImage("ink", px.data(), px.size(), 4, 2, 8, PixelFormat::kRGB8);  // stride < 4 x 3
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  bad = client.SendStyleImage("huge", px.data(), px.size(), 100000, 2, 300000, PixelFormat::kRGB8);
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
}

TEST(ClientV14, StyleImageNeedsTheCapability) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "v14_test", kTimeouts));
  Connect(server, client, FakeServer::MakeWelcome(1, 1));  // no StyleImages
  const auto px = Rgb(2, 2);
  Status s = client.SendStyleImage("watercolor", px.data(), px.size(), 2, 2, 6, PixelFormat::kRGB8);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("StyleImages capability"), std::string::npos) << s.message();
}

TEST(ClientV14, SceneCutFlagReachesTheServer) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "v14_test", kTimeouts));
  Connect(server, client, V14Welcome(1));
  std::vector<uint8_t> px(4 * 2 * 4, 9);
  FrameView v;
  v.pixels = px.data();
  v.size = px.size();
  v.layout = PixelLayout{4, 2, 16, PixelFormat::kRGBA8, RowOrder::kTopDown, ColorSpace::kSRGB, AlphaMode::kIgnore};
  v.scene_cut = true;
  ASSERT_TRUE(client.SubmitFrame(v).ok());
  FakeServer::Received got;
  ASSERT_TRUE(server.ReceiveOf<FrameHeader>(&got, kWait));
  EXPECT_TRUE(std::get<FrameHeader>(got.message).scene_cut);
  server.Echo(got);
  FrameResult r;
  ASSERT_TRUE(client.WaitForResult(&r, kWait));
  v.scene_cut = false;
  ASSERT_TRUE(client.SubmitFrame(v).ok());
  ASSERT_TRUE(server.ReceiveOf<FrameHeader>(&got, kWait));
  EXPECT_FALSE(std::get<FrameHeader>(got.message).scene_cut);
}

TEST(ClientV14, WelcomeCapacityAndWantedPlanesFollowTheNotices) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "v14_test", kTimeouts));
  EXPECT_TRUE(client.GetWantedPlanes().empty());
  const std::string id = Connect(server, client, V14Welcome(1));
  ASSERT_TRUE(client.GetWelcome().has_value());
  EXPECT_EQ(client.GetWelcome()->sessions_open, 2u);
  EXPECT_EQ(client.GetWelcome()->sessions_max, 4u);
  EXPECT_EQ(client.GetWantedPlanes(), (std::vector<PlaneKind>{PlaneKind::kDepth, PlaneKind::kMotion}));
  Notice n;
  n.kind = NoticeKind::kWantedPlanesChanged;
  n.message = "the server now uses these planes: Normals";
  n.wanted_planes = std::vector<PlaneKind>{PlaneKind::kNormals};
  server.Send(id, n);
  ClientEvent e;
  bool seen = false;
  while (!seen && client.WaitForEvent(&e, kWait)) seen = e.kind == ClientEventKind::kNotice;
  ASSERT_TRUE(seen);
  EXPECT_EQ(client.GetWantedPlanes(), (std::vector<PlaneKind>{PlaneKind::kNormals}));
}

TEST(ClientV14, ReconnectReplaysStyleImagesBeforeTheParamsThatNameThem) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "v14_test", kTimeouts));
  const std::string first = Connect(server, client, V14Welcome(1));
  const auto px = Rgb(2, 2);
  ASSERT_TRUE(client.SendStyleImage("watercolor", px.data(), px.size(), 2, 2, 6, PixelFormat::kRGB8).ok());
  ASSERT_TRUE(client.SetParams(AllNewParams()).ok());
  FakeServer::Received got;
  ASSERT_TRUE(server.ReceiveOf<Params>(&got, kWait));
  ErrorMessage gone;
  gone.code = WireError::kUnknownSession;
  gone.message = "session unknown (server restarted?)";
  server.Send(first, gone);
  ASSERT_TRUE(server.ReceiveOf<Hello>(&got, kWait));
  server.Send(got.identity, V14Welcome(2));
  ASSERT_TRUE(server.Receive(&got, kWait));
  ASSERT_TRUE(std::holds_alternative<StyleImage>(got.message)) << "got " << MessageName(got.message);
  EXPECT_EQ(std::get<StyleImage>(got.message).name, "watercolor");
  EXPECT_EQ(got.pixels, px);
  ASSERT_TRUE(server.Receive(&got, kWait));
  ASSERT_TRUE(std::holds_alternative<Params>(got.message)) << "got " << MessageName(got.message);
  EXPECT_EQ(std::get<Params>(got.message).SetMask(), AllNewParams().SetMask());
}

// The real server (tiny model, tiny IP-Adapter: it grants StyleImages) takes a style image, every new parameter and a
// scene-cut frame, refuses none of them, and answers the frame.
TEST(ClientV14, RealServerTakesStyleImageNewParamsAndSceneCut) {
  SDB_SKIP_WITHOUT_PYTHON();
  const std::string python = testing::PythonFromEnvironment();
  std::string error;
  auto server = testing::PythonServer::Start(python, "tiny", "tcp://127.0.0.1:*", {"--ip-adapter", "tiny"},
                                             milliseconds(180000), &error);
  ASSERT_NE(server, nullptr) << error;
  ClientConfig config = TestConfig(server->endpoint(), "v14_test", kTimeouts);
  config.handshake_timeout = milliseconds(5000);
  config.peer_timeout = milliseconds(60000);
  Client client(config);
  ASSERT_TRUE(client.Start().ok());
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, milliseconds(30000)));
  const std::optional<Welcome> welcome = client.GetWelcome();
  ASSERT_TRUE(welcome.has_value());
  EXPECT_TRUE(welcome->capabilities & capability::kStyleImages) << "granted by a server with an IP-Adapter";
  EXPECT_EQ(welcome->sessions_open, 1u);
  EXPECT_GT(welcome->sessions_max, 0u);

  const uint32_t w = 64, h = 64;
  std::vector<uint8_t> style(static_cast<size_t>(w) * h * 3);
  for (size_t i = 0; i < style.size(); ++i) style[i] = static_cast<uint8_t>(i * 13);
  ASSERT_TRUE(client.SendStyleImage("watercolor", style.data(), style.size(), w, h, w * 3, PixelFormat::kRGB8).ok());
  Params p;
  p.style_blend = std::vector<AdapterWeight>{{"watercolor", 1.0f}};
  p.ip_adapter_scale = 0.5f;
  p.latent_feedback = 0.1f;
  p.scene_cut_threshold = 0.25f;
  ASSERT_TRUE(client.SetParams(p).ok());
  std::vector<uint8_t> px(static_cast<size_t>(w) * h * 4, 128);
  FrameView v;
  v.pixels = px.data();
  v.size = px.size();
  v.layout = PixelLayout{w, h, w * 4, PixelFormat::kRGBA8, RowOrder::kTopDown, ColorSpace::kSRGB, AlphaMode::kIgnore};
  v.scene_cut = true;
  ASSERT_TRUE(client.SubmitFrame(v).ok());
  FrameResult r;
  ASSERT_TRUE(client.WaitForResult(&r, milliseconds(120000))) << "no Result for the frame";
  ClientEvent e;
  while (client.TryGetEvent(&e)) EXPECT_NE(e.kind, ClientEventKind::kError) << e.message;
  EXPECT_EQ(client.GetCounters().errors_received, 0u);
}

}  // namespace
}  // namespace sdbridge
