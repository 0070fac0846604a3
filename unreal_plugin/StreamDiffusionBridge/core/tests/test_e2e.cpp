// End to end against the real Python server (`python -m sdbridge.cli serve`, real tcp loopback on a
// free port) with the tiny model: handshake, 50 frames with their ids echoed, a prompt change, a game
// event + state, a server restart with reconnect and a new handshake, and a protocol-major mismatch;
// plus the identity model with the full credit window (every frame answered by a Result or a Credit).
// Needs SDBRIDGE_PYTHON (ctest sets it from -DSDB_PYTHON); skips without it unless
// SDBRIDGE_REQUIRE_E2E=1 (CI), where a missing server is a failure.
#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>

#include "client_waits.h"
#include "python_server.h"
#include "sdbridge/client.h"
#include "test_config.h"

namespace sdbridge {
namespace {

using std::chrono::milliseconds;
using testing::PythonServer;
using testing::View;
constexpr milliseconds kServerStart{120000};  // importing torch + building the tiny model on 2 cores
constexpr milliseconds kWait{30000};

std::unique_ptr<PythonServer> StartServer(const std::string& model, const std::string& bind = "tcp://127.0.0.1:*") {
  const std::string python = testing::PythonFromEnvironment();
  if (python.empty()) return nullptr;
  std::string error;
  auto server = PythonServer::Start(python, model, bind, {}, kServerStart, &error);
  EXPECT_NE(server, nullptr) << error;
  return server;
}

ClientConfig E2EConfig(const std::string& endpoint) {
  ClientConfig c = testing::TestConfig(endpoint, "sdbridge-cpp-e2e",
                                       testing::TestTimeouts()
                                           .Handshake(milliseconds(2000))
                                           .Reconnect(milliseconds(100), milliseconds(500))
                                           .Heartbeat(ClientConfig{}.heartbeat_interval)
                                           .Peer(milliseconds(20000)));  // tiny-model frames take a while on 2 cores
  c.max_pending_results = 64;
  return c;
}

// Wait for an event of `kind`. Other error events fail the test unless `allow_timeouts` and they
// are handshake timeouts (expected while a restarted server is still loading).
ClientEvent ExpectEvent(Client& c, ClientEventKind kind, milliseconds timeout = kWait, bool allow_timeouts = false) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  ClientEvent e;
  while (std::chrono::steady_clock::now() < deadline) {
    if (c.WaitForEvent(&e, milliseconds(50)) && e.kind == kind) return e;
    const bool tolerated = allow_timeouts && e.status == StatusCode::kTimeout;
    if (e.kind == ClientEventKind::kError && kind != ClientEventKind::kError && !e.message.empty() && !tolerated) {
      ADD_FAILURE() << "unexpected error event: " << e.message;
      e = ClientEvent{};
    }
  }
  ADD_FAILURE() << "no " << ClientEventKindName(kind) << " event within " << timeout.count() << " ms";
  return ClientEvent{};
}

// A deterministic RGBA test image (a gradient shifted by `t`).
std::vector<uint8_t> Image(uint32_t w, uint32_t h, uint32_t t) {
  std::vector<uint8_t> px(static_cast<size_t>(w) * h * 4);
  for (uint32_t y = 0; y < h; ++y) {
    for (uint32_t x = 0; x < w; ++x) {
      uint8_t* p = &px[(static_cast<size_t>(y) * w + x) * 4];
      p[0] = static_cast<uint8_t>(x * 4 + t);
      p[1] = static_cast<uint8_t>(y * 4);
      p[2] = static_cast<uint8_t>((x + y) * 2);
      p[3] = 255;
    }
  }
  return px;
}

// Send `count` frames keeping at most `window` in flight (so none is replaced) and collect results.
std::vector<FrameResult> Stream(Client& client, uint32_t w, uint32_t h, int count, uint32_t window,
                                std::vector<uint64_t>* ids, uint32_t image_seed = 0) {
  std::vector<FrameResult> results;
  int submitted = 0;
  while (static_cast<int>(results.size()) < count) {
    while (submitted < count && static_cast<uint32_t>(submitted) - results.size() < window) {
      const auto px = Image(w, h, image_seed == 0 ? static_cast<uint32_t>(submitted) : image_seed);
      uint64_t id = 0;
      Status s = client.SubmitFrame(View(px, w, h), &id);
      EXPECT_TRUE(s.ok()) << s.message();
      if (!s.ok()) return results;
      ids->push_back(id);
      ++submitted;
    }
    FrameResult r;
    if (!client.WaitForResult(&r, kWait)) {
      ADD_FAILURE() << "no result within " << kWait.count() << " ms after " << results.size() << " results";
      return results;
    }
    results.push_back(std::move(r));
  }
  return results;
}

TEST(EndToEnd, TinyModelHandshakeFiftyFramesPromptAndEvent) {
  SDB_SKIP_WITHOUT_PYTHON();
  auto server = StartServer("tiny");
  ASSERT_NE(server, nullptr);
  Client client(E2EConfig(server->endpoint()));
  ASSERT_TRUE(client.Start().ok());
  ClientEvent connected = ExpectEvent(client, ClientEventKind::kConnected);
  ASSERT_TRUE(connected.welcome.has_value());
  const Welcome& w = *connected.welcome;
  EXPECT_EQ(w.protocol_major, kProtocolMajor);
  ASSERT_TRUE(w.model.has_value());
  EXPECT_EQ(w.model->name, "tiny");
  EXPECT_GE(w.initial_credits, 1u);
  ASSERT_GT(w.model->width, 0u);
  const uint32_t W = w.model->width;
  const uint32_t H = w.model->height;

  Prompt first;
  first.text = "a watercolor castle";
  ASSERT_TRUE(client.SetPrompt(first).ok());

  // 50 frames, all answered, ids echoed in order. One frame in flight at a time: with more, the
  // server's latest-wins slot may legitimately drop a frame (it returns a Credit instead).
  std::vector<uint64_t> ids;
  auto results = Stream(client, W, H, 50, 1, &ids);
  ASSERT_EQ(results.size(), 50u);
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].header.frame_id, ids[i]) << "result " << i;
    EXPECT_EQ(results[i].header.session_id, w.session_id);
    EXPECT_EQ(results[i].header.layout.width, W);
    EXPECT_EQ(results[i].header.layout.height, H);
    EXPECT_EQ(results[i].pixels.size(), static_cast<size_t>(results[i].header.layout.stride) * H);
    EXPECT_EQ(results[i].header.is_warmup, i < w.latency_frames) << "result " << i;
  }
  EXPECT_GT(results.back().header.inference_us, 0u);
  EXPECT_EQ(client.GetCounters().frames_replaced, 0u);

  // Same input before and after a prompt change: the output changes.
  std::vector<uint64_t> more;
  const uint32_t still = 77;
  auto before = Stream(client, W, H, static_cast<int>(w.latency_frames) + 2, 1, &more, still);
  Prompt second;
  second.text = "a neon city at night, cyberpunk";
  second.negative = "blurry";
  ASSERT_TRUE(client.SetPrompt(second).ok());
  auto after = Stream(client, W, H, static_cast<int>(w.latency_frames) + 2, 1, &more, still);
  ASSERT_FALSE(before.empty());
  ASSERT_FALSE(after.empty());
  EXPECT_NE(before.back().pixels.ToVector(), after.back().pixels.ToVector())
      << "the prompt change did not change the output";

  // A game event and a state variable, then a Stats round trip: the session is alive and counted.
  GameEvent ev;
  ev.name = "enter_zone";
  ev.payload = std::vector<KeyValue>{{"biome", Value(std::string("forest"))}, {"danger", Value(int64_t{3})}};
  ASSERT_TRUE(client.SendGameEvent(ev).ok());
  State st;
  st.entries = std::vector<KeyValue>{{"time_of_day", Value(std::string("night"))}};
  ASSERT_TRUE(client.SetState(st).ok());
  ASSERT_TRUE(client.RequestStats().ok());
  ClientEvent stats = ExpectEvent(client, ClientEventKind::kStats);
  ASSERT_TRUE(stats.stats.has_value());
  EXPECT_EQ(stats.stats->session_id, w.session_id);
  EXPECT_EQ(stats.stats->frames_in, 50u + more.size());
  EXPECT_EQ(client.GetCounters().errors_received, 0u);
  client.Stop();
  EXPECT_EQ(server->Stop(), 0);
}

// Protocol 1.2: with Params.txt2img the client asks for one generated frame per credit (client Credit) and sends
// no frame; the identity model answers with its test pattern at the model's size; SubmitFrame is refused meanwhile,
// and frames flow again once txt2img is off. The CFG mode travels in the same Params.
TEST(EndToEnd, Txt2imgStreamsGeneratedFramesWithoutInputFrames) {
  SDB_SKIP_WITHOUT_PYTHON();
  auto server = StartServer("identity");
  ASSERT_NE(server, nullptr);
  Client client(E2EConfig(server->endpoint()));
  ASSERT_TRUE(client.Start().ok());
  ClientEvent connected = ExpectEvent(client, ClientEventKind::kConnected);
  ASSERT_TRUE(connected.welcome.has_value() && connected.welcome->model.has_value());
  EXPECT_NE(connected.welcome->capabilities & capability::kTxt2img, 0u);
  const uint32_t W = connected.welcome->model->width;
  Params on;
  on.txt2img = true;
  on.cfg_mode = CfgMode::kSelf;
  ASSERT_TRUE(client.SetParams(on).ok());
  uint64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    FrameResult r;
    ASSERT_TRUE(client.WaitForResult(&r, kWait)) << "generated result " << i;
    EXPECT_GT(r.header.frame_id, last);
    last = r.header.frame_id;
    EXPECT_EQ(r.header.layout.width, W);
  }
  EXPECT_EQ(client.GetCounters().frames_sent, 0u);
  const auto px = Image(W, W, 1);
  EXPECT_EQ(client.SubmitFrame(View(px, W, W)).code(), StatusCode::kInvalidArgument);
  Params off;
  off.txt2img = false;
  ASSERT_TRUE(client.SetParams(off).ok());
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  bool echoed = false;  // generated results still in flight arrive first; then our own frame comes back
  uint64_t id = 0;
  ASSERT_TRUE(client.SubmitFrame(View(px, W, W), &id).ok());
  while (!echoed && std::chrono::steady_clock::now() < deadline) {
    FrameResult r;
    if (client.WaitForResult(&r, milliseconds(100))) echoed = r.header.frame_id == id && r.pixels.ToVector() == px;
  }
  EXPECT_TRUE(echoed) << "frame " << id << " not echoed after txt2img went off";
  client.Stop();
  EXPECT_EQ(server->Stop(), 0);
}

// Protocol 1.3: planes from the C++ codec reach the Python server, which answers the frame; a NaN depth is refused
// naming Frame.planes[0] and the session goes on.
TEST(EndToEnd, FramesWithPlanesAreAcceptedAndABadPlaneIsRefusedByName) {
  SDB_SKIP_WITHOUT_PYTHON();
  auto server = StartServer("identity");
  ASSERT_NE(server, nullptr);
  Client client(E2EConfig(server->endpoint()));
  ASSERT_TRUE(client.Start().ok());
  ClientEvent connected = ExpectEvent(client, ClientEventKind::kConnected);
  ASSERT_TRUE(connected.welcome.has_value());
  EXPECT_NE(connected.welcome->capabilities & capability::kPlanes, 0u);
  const auto px = Image(8, 4, 3);
  std::vector<float> depth(4 * 2, 2.5f);
  std::vector<uint16_t> motion(8 * 4 * 2, 0);
  FrameView v = View(px, 8, 4);
  PlaneView d{PlaneDesc::Packed(PlaneKind::kDepth, PlaneFormat::kR32F, 4, 2),
              reinterpret_cast<const uint8_t*>(depth.data()), depth.size() * sizeof(float)};
  d.desc.depth_encoding = DepthEncoding::kLinear;
  d.desc.depth_near = 0.1f;
  d.desc.depth_far = 100.0f;
  PlaneView m{PlaneDesc::Packed(PlaneKind::kMotion, PlaneFormat::kRG16F, 8, 4),
              reinterpret_cast<const uint8_t*>(motion.data()), motion.size() * sizeof(uint16_t)};
  m.desc.motion_units = MotionUnits::kPixels;
  m.desc.motion_target = MotionTarget::kPrevious;
  v.planes = {d, m};
  uint64_t id = 0;
  ASSERT_TRUE(client.SubmitFrame(v, &id).ok());
  FrameResult r;
  ASSERT_TRUE(client.WaitForResult(&r, kWait));
  EXPECT_EQ(r.header.frame_id, id);
  EXPECT_EQ(r.pixels.ToVector(), px);

  depth[3] = std::numeric_limits<float>::quiet_NaN();
  ASSERT_TRUE(client.SubmitFrame(v).ok());  // well formed for the client; the server checks the values
  ClientEvent refused = ExpectEvent(client, ClientEventKind::kError);
  ASSERT_TRUE(refused.error.has_value());
  EXPECT_EQ(refused.error->field.value_or(""), "Frame.planes[0]") << refused.message;
  depth[3] = 1.0f;
  ASSERT_TRUE(client.SubmitFrame(v, &id).ok());  // the session stays up
  ASSERT_TRUE(client.WaitForResult(&r, kWait));
  EXPECT_EQ(r.header.frame_id, id);
  client.Stop();
  EXPECT_EQ(server->Stop(), 0);
}

TEST(EndToEnd, ServerRestartReconnectsWithNewHandshake) {
  SDB_SKIP_WITHOUT_PYTHON();
  auto server = StartServer("tiny");
  ASSERT_NE(server, nullptr);
  const std::string endpoint = server->endpoint();
  Client client(E2EConfig(endpoint));
  ASSERT_TRUE(client.Start().ok());
  ClientEvent first = ExpectEvent(client, ClientEventKind::kConnected);
  ASSERT_TRUE(first.welcome.has_value());
  Prompt p;
  p.text = "kept across restarts";
  ASSERT_TRUE(client.SetPrompt(p).ok());
  std::vector<uint64_t> ids;
  auto results = Stream(client, 32, 16, 3, 1, &ids);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[2].header.frame_id, ids[2]);

  EXPECT_EQ(server->Stop(), 0);
  server.reset();
  ClientEvent lost = ExpectEvent(client, ClientEventKind::kDisconnected);
  EXPECT_FALSE(lost.message.empty());

  auto restarted = StartServer("tiny", endpoint);  // same port
  ASSERT_NE(restarted, nullptr);
  ClientEvent second = ExpectEvent(client, ClientEventKind::kConnected, kWait, /*allow_timeouts=*/true);
  ASSERT_TRUE(second.welcome.has_value());
  EXPECT_EQ(client.GetCounters().sessions, 2u);
  results = Stream(client, 32, 16, 3, 1, &ids);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[2].header.frame_id, ids.back());
  EXPECT_EQ(results[2].header.session_id, second.welcome->session_id);
  EXPECT_EQ(results[2].pixels.size(), static_cast<size_t>(32 * 4 * 16));  // back at the frame's own size
  EXPECT_EQ(client.GetCounters().errors_received, 0u);  // the replayed prompt was accepted
}

TEST(EndToEnd, FullCreditWindowEveryFrameIsAnsweredByResultOrCredit) {
  SDB_SKIP_WITHOUT_PYTHON();
  auto server = StartServer("identity");
  ASSERT_NE(server, nullptr);
  Client client(E2EConfig(server->endpoint()));
  ASSERT_TRUE(client.Start().ok());
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  constexpr int kFrames = 120;
  const auto px = Image(64, 64, 9);
  std::vector<uint64_t> results;
  FrameResult r;
  uint64_t last_id = 0;
  for (int i = 0; i < kFrames; ++i) {
    ASSERT_TRUE(client.WaitUntilReadyToSend(kWait)) << "no credit came back after " << i << " frames";
    ASSERT_TRUE(client.SubmitFrame(View(px, 64, 64), &last_id).ok());
    while (client.TryGetResult(&r)) results.push_back(r.header.frame_id);
  }
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  auto answered = [&] { return results.size() + client.GetCounters().frames_answered_by_credit; };
  while (answered() < static_cast<size_t>(kFrames) && std::chrono::steady_clock::now() < deadline) {
    if (client.WaitForResult(&r, milliseconds(100))) results.push_back(r.header.frame_id);
  }
  const ClientCounters c = client.GetCounters();
  EXPECT_EQ(answered(), static_cast<size_t>(kFrames)) << results.size() << " results + "
                                                       << c.frames_answered_by_credit << " credits";
  EXPECT_EQ(c.frames_sent, static_cast<uint64_t>(kFrames));
  EXPECT_EQ(c.frames_replaced, 0u);  // WaitUntilReadyToSend: nothing waited in the client's slot
  EXPECT_EQ(c.in_flight, 0u);
  ASSERT_FALSE(results.empty());
  EXPECT_EQ(results.back(), last_id);  // latest wins: the newest frame is never the one dropped
  for (size_t i = 1; i < results.size(); ++i) EXPECT_LT(results[i - 1], results[i]) << "results out of order";
  EXPECT_EQ(c.errors_received, 0u);
}

TEST(EndToEnd, MajorVersionMismatchIsReportedClearly) {
  SDB_SKIP_WITHOUT_PYTHON();
  auto server = StartServer("tiny");
  ASSERT_NE(server, nullptr);
  ClientConfig cfg = E2EConfig(server->endpoint());
  cfg.protocol_major = static_cast<uint16_t>(kProtocolMajor + 1);
  Client client(cfg);
  ASSERT_TRUE(client.Start().ok());
  ClientEvent e = ExpectEvent(client, ClientEventKind::kError);
  EXPECT_EQ(e.status, StatusCode::kVersionMismatch) << e.message;
  ASSERT_TRUE(e.error.has_value());
  EXPECT_EQ(e.error->code, WireError::kVersionMismatch);
  const std::string ours = std::to_string(kProtocolMajor + 1) + "." + std::to_string(kProtocolMinor);
  const std::string theirs = std::to_string(kProtocolMajor) + ".";
  EXPECT_NE(e.message.find(ours), std::string::npos) << e.message;
  EXPECT_NE(e.message.find(theirs), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("install"), std::string::npos) << e.message;
  EXPECT_TRUE(client.WaitForState(ConnectionState::kRefused, kWait));
  std::printf("version mismatch as reported to the engine: %s\n", e.message.c_str());
}

}  // namespace
}  // namespace sdbridge
