// Client tests against a scripted in-process ROUTER (fake_server.h): handshake, credits,
// latest-frame submit, results, control messages, heartbeats, version errors and reconnects.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>

#include "client_waits.h"
#include "fake_server.h"
#include "samples.h"
#include "sdbridge/client.h"
#include "test_config.h"

namespace sdbridge {
namespace {

using std::chrono::milliseconds;
using testing::Eventually;
using testing::ExpectEvent;
using testing::FakeServer;
using testing::Handshake;
using testing::TestConfig;
using testing::View;
constexpr milliseconds kWait{5000};

const testing::TestTimeouts& kFast = testing::kQuickReconnect;  // many tests lose a session on purpose

std::vector<uint8_t> Pixels(uint32_t w, uint32_t h, uint8_t seed) {
  std::vector<uint8_t> px(static_cast<size_t>(w) * h * 4);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(seed + i);
  return px;
}


TEST(Client, HandshakeSendsHelloAndReportsWelcome) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "test_client", kFast));
  ASSERT_TRUE(client.Start().ok());
  Hello hello;
  Handshake(server, 7, 2, &hello);
  EXPECT_EQ(hello.protocol_major, kProtocolMajor);
  EXPECT_EQ(hello.protocol_minor, kProtocolMinor);
  EXPECT_EQ(hello.client_name.value_or(""), "test_client");
  EXPECT_TRUE(hello.capabilities & capability::kCredits);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  ClientEvent e = ExpectEvent(client, ClientEventKind::kConnected);
  ASSERT_TRUE(e.welcome.has_value());
  EXPECT_EQ(e.welcome->session_id, 7u);
  EXPECT_EQ(client.GetCounters().credits, 2u);
  EXPECT_EQ(client.GetWelcome()->session_id, 7u);
}

TEST(Client, FramesWaitForCreditAndOnlyTheNewestIsSent) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "test_client", kFast));
  ASSERT_TRUE(client.Start().ok());
  Handshake(server, 1, 1);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));

  auto px = Pixels(8, 4, 0);
  uint64_t id1 = 0;
  ASSERT_TRUE(client.SubmitFrame(View(px, 8, 4), &id1).ok());
  FakeServer::Received f1;
  ASSERT_TRUE(server.ReceiveOf<FrameHeader>(&f1, kWait));
  EXPECT_EQ(std::get<FrameHeader>(f1.message).frame_id, id1);
  EXPECT_EQ(std::get<FrameHeader>(f1.message).session_id, 1u);
  EXPECT_EQ(f1.parts, 2u);
  EXPECT_EQ(f1.pixels, px);

  // No credit left: these wait; the second replaces the first.
  uint64_t id2 = 0;
  uint64_t id3 = 0;
  auto px2 = Pixels(8, 4, 2);
  auto px3 = Pixels(8, 4, 3);
  ASSERT_TRUE(client.SubmitFrame(View(px2, 8, 4), &id2).ok());
  ASSERT_TRUE(client.SubmitFrame(View(px3, 8, 4), &id3).ok());
  EXPECT_EQ(id2, id1 + 1);
  EXPECT_EQ(id3, id1 + 2);
  FakeServer::Received none;
  EXPECT_FALSE(server.ReceiveOf<FrameHeader>(&none, milliseconds(200)));

  server.Echo(f1);  // returns the credit
  FrameResult r;
  ASSERT_TRUE(client.WaitForResult(&r, kWait));
  EXPECT_EQ(r.header.frame_id, id1);
  EXPECT_EQ(r.pixels.ToVector(), px);
  EXPECT_GT(r.received_time_us, 0u);

  FakeServer::Received f3;
  ASSERT_TRUE(server.ReceiveOf<FrameHeader>(&f3, kWait));
  EXPECT_EQ(std::get<FrameHeader>(f3.message).frame_id, id3);
  EXPECT_EQ(f3.pixels, px3);
  ASSERT_TRUE(Eventually([&] { return client.GetCounters().frames_sent == 2; }));
  const ClientCounters c = client.GetCounters();
  EXPECT_EQ(c.frames_submitted, 3u);
  EXPECT_EQ(c.frames_sent, 2u);
  EXPECT_EQ(c.frames_replaced, 1u);
  EXPECT_EQ(c.in_flight, 1u);
  EXPECT_EQ(c.credits, 0u);
}

TEST(Client, ResultPixelsOutliveTheClient) {
  FakeServer server;
  FrameResult kept;
  auto px = Pixels(16, 8, 5);
  {
    Client client(TestConfig(server.endpoint(), "test_client", kFast));
    ASSERT_TRUE(client.Start().ok());
    Handshake(server, 1, 1);
    ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
    ASSERT_TRUE(client.SubmitFrame(View(px, 16, 8)).ok());
    FakeServer::Received f;
    ASSERT_TRUE(server.ReceiveOf<FrameHeader>(&f, kWait));
    server.Echo(f);
    ASSERT_TRUE(client.WaitForResult(&kept, kWait));
  }  // client, its worker and its ZeroMQ context are gone
  EXPECT_EQ(kept.pixels.size(), px.size());
  EXPECT_EQ(kept.pixels.ToVector(), px);  // ASan would flag a dangling buffer here
  FrameResult copy = kept;
  kept = FrameResult{};
  EXPECT_EQ(copy.pixels.ToVector(), px);
}

TEST(Client, CreditMessageReleasesAWaitingFrame) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "test_client", kFast));
  ASSERT_TRUE(client.Start().ok());
  const std::string id = Handshake(server, 1, 0);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  auto px = Pixels(4, 4, 1);
  ASSERT_TRUE(client.SubmitFrame(View(px, 4, 4)).ok());
  FakeServer::Received got;
  EXPECT_FALSE(server.ReceiveOf<FrameHeader>(&got, milliseconds(200)));
  server.Send(id, Credit{1});
  EXPECT_TRUE(server.ReceiveOf<FrameHeader>(&got, kWait));
  server.Send(id, Credit{1});  // as if that frame were replaced in the server's latest-wins slot
  ASSERT_TRUE(client.WaitUntilReadyToSend(kWait));
  EXPECT_EQ(client.GetCounters().frames_answered_by_credit, 2u);
  EXPECT_EQ(client.GetCounters().in_flight, 0u);
}

TEST(Client, ReadyToSendMeansCreditAndNothingPending) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "test_client", kFast));
  EXPECT_FALSE(client.WaitUntilReadyToSend(milliseconds(10)));  // not started
  ASSERT_TRUE(client.Start().ok());
  Handshake(server, 1, 1);
  ASSERT_TRUE(client.WaitUntilReadyToSend(kWait));
  auto px = Pixels(4, 4, 1);
  ASSERT_TRUE(client.SubmitFrame(View(px, 4, 4)).ok());
  FakeServer::Received f;
  ASSERT_TRUE(server.ReceiveOf<FrameHeader>(&f, kWait));
  EXPECT_FALSE(client.WaitUntilReadyToSend(milliseconds(100)));  // the only credit is spent
  server.Echo(f);
  EXPECT_TRUE(client.WaitUntilReadyToSend(kWait));
}

TEST(Client, LatestResultDropsOlderOnes) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "test_client", kFast));
  ASSERT_TRUE(client.Start().ok());
  Handshake(server, 1, 3);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  std::vector<FakeServer::Received> frames(3);
  for (int i = 0; i < 3; ++i) {
    auto px = Pixels(4, 4, static_cast<uint8_t>(i));
    ASSERT_TRUE(client.SubmitFrame(View(px, 4, 4)).ok());
    ASSERT_TRUE(server.ReceiveOf<FrameHeader>(&frames[static_cast<size_t>(i)], kWait));
  }
  for (auto& f : frames) server.Echo(f);
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (client.GetCounters().results_received < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  FrameResult r;
  ASSERT_TRUE(client.TryGetLatestResult(&r));
  EXPECT_EQ(r.header.frame_id, std::get<FrameHeader>(frames[2].message).frame_id);
  EXPECT_FALSE(client.TryGetResult(&r));
  EXPECT_EQ(client.GetCounters().results_dropped, 2u);
}

TEST(Client, ControlMessagesArriveInOrderWithTheirFields) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "test_client", kFast));
  ASSERT_TRUE(client.Start().ok());
  Handshake(server, 1, 1);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));

  ASSERT_TRUE(client.SetPrompt(testing::SamplePrompt()).ok());
  ASSERT_TRUE(client.SetParams(testing::SampleParams()).ok());
  GameEvent ev;
  ev.name = "enter_zone";
  ev.payload = std::vector<KeyValue>{{"biome", Value(std::string("forest"))}};
  ASSERT_TRUE(client.SendGameEvent(ev).ok());
  State st;
  st.entries = std::vector<KeyValue>{{"time_of_day", Value(std::string("night"))}};
  ASSERT_TRUE(client.SetState(st).ok());
  ASSERT_TRUE(client.RequestStats().ok());

  FakeServer::Received got;
  ASSERT_TRUE(server.Receive(&got, kWait));
  ASSERT_TRUE(std::holds_alternative<Prompt>(got.message));
  EXPECT_EQ(std::get<Prompt>(got.message).text.value_or(""), "a watercolor castle");
  ASSERT_TRUE(server.Receive(&got, kWait));
  ASSERT_TRUE(std::holds_alternative<Params>(got.message));
  EXPECT_EQ(std::get<Params>(got.message).SetMask(), testing::SampleParams().SetMask());
  ASSERT_TRUE(server.Receive(&got, kWait));
  ASSERT_TRUE(std::holds_alternative<GameEvent>(got.message));
  EXPECT_EQ(std::get<GameEvent>(got.message).name.value_or(""), "enter_zone");
  EXPECT_GT(std::get<GameEvent>(got.message).client_time_us, 0u);
  ASSERT_TRUE(server.Receive(&got, kWait));
  ASSERT_TRUE(std::holds_alternative<State>(got.message));
  EXPECT_EQ(std::get<std::string>((*std::get<State>(got.message).entries)[0].value), "night");
  ASSERT_TRUE(server.Receive(&got, kWait));
  ASSERT_TRUE(std::holds_alternative<StatsRequest>(got.message));

  Stats stats;
  stats.request_id = std::get<StatsRequest>(got.message).request_id;
  stats.frames_in = 5;
  server.Send(got.identity, stats);
  ClientEvent e = ExpectEvent(client, ClientEventKind::kStats);
  ASSERT_TRUE(e.stats.has_value());
  EXPECT_EQ(e.stats->frames_in, 5u);
}

TEST(Client, InvalidCallsReturnStatusWithoutThrowing) {
  Client client(TestConfig("tcp://127.0.0.1:1", "test_client", kFast));
  auto px = Pixels(4, 4, 0);
  EXPECT_EQ(client.SubmitFrame(View(px, 4, 4)).code(), StatusCode::kStopped);
  EXPECT_EQ(client.SetPrompt(Prompt{}).code(), StatusCode::kStopped);
  ASSERT_TRUE(client.Start().ok());
  EXPECT_EQ(client.Start().code(), StatusCode::kInvalidArgument);
  FrameView bad = View(px, 4, 4);
  bad.size = 10;
  Status s = client.SubmitFrame(bad);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("64"), std::string::npos) << s.message();
  bad = View(px, 4, 4);
  bad.layout.stride = 3;
  EXPECT_EQ(client.SubmitFrame(bad).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client.SetParams(Params{}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client.SendGameEvent(GameEvent{}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client.SetState(State{}).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(client.TryGetResult(nullptr));
  client.Stop();
  client.Stop();  // idempotent
  EXPECT_EQ(client.GetState(), ConnectionState::kStopped);
}

TEST(Client, BadEndpointIsReportedAndNotRetried) {
  Client client(TestConfig("not-an-endpoint", "test_client", kFast));
  ASSERT_TRUE(client.Start().ok());
  ClientEvent e = ExpectEvent(client, ClientEventKind::kError);
  EXPECT_EQ(e.status, StatusCode::kInvalidArgument);
  EXPECT_NE(e.message.find("not-an-endpoint"), std::string::npos) << e.message;
  EXPECT_TRUE(client.WaitForState(ConnectionState::kRefused, kWait));
}

TEST(Client, NoServerGivesHandshakeTimeoutAndKeepsRetrying) {
  std::string endpoint;
  {
    FakeServer probe;  // grab a free port, then close it
    endpoint = probe.endpoint();
  }
  ClientConfig cfg = TestConfig(endpoint, "test_client", kFast);
  cfg.handshake_timeout = milliseconds(200);
  Client client(cfg);
  ASSERT_TRUE(client.Start().ok());
  ClientEvent e = ExpectEvent(client, ClientEventKind::kError);
  EXPECT_EQ(e.status, StatusCode::kTimeout);
  EXPECT_NE(e.message.find(endpoint), std::string::npos) << e.message;
  // The server appears later on that port: the client connects by itself.
  FakeServer late(endpoint);
  Handshake(late, 3, 1);
  EXPECT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
}

TEST(Client, ServerRefusingOurMajorStopsRetryingWithClearMessage) {
  FakeServer server;
  ClientConfig cfg = TestConfig(server.endpoint(), "test_client", kFast);
  cfg.protocol_major = static_cast<uint16_t>(kProtocolMajor + 1);
  Client client(cfg);
  ASSERT_TRUE(client.Start().ok());
  FakeServer::Received got;
  ASSERT_TRUE(server.ReceiveOf<Hello>(&got, kWait));
  EXPECT_EQ(std::get<Hello>(got.message).protocol_major, kProtocolMajor + 1);
  ErrorMessage err;
  err.code = WireError::kVersionMismatch;
  err.message = "client speaks protocol 2.0, this server speaks 1.0: install a plugin of major 1";
  err.field = "Hello.protocol_major";
  err.session_closed = true;
  server.Send(got.identity, err);
  ClientEvent e = ExpectEvent(client, ClientEventKind::kError);
  EXPECT_EQ(e.status, StatusCode::kVersionMismatch);
  EXPECT_NE(e.message.find("2.0"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("1.0"), std::string::npos) << e.message;
  ASSERT_TRUE(client.WaitForState(ConnectionState::kRefused, kWait));
  EXPECT_FALSE(server.ReceiveOf<Hello>(&got, milliseconds(300)));  // no retry loop
  // An explicit Reconnect() tries again.
  ASSERT_TRUE(client.Reconnect().ok());
  EXPECT_TRUE(server.ReceiveOf<Hello>(&got, kWait));
}

TEST(Client, ServerOfAnotherProtocolIsRefusedOnTheTypedWireCode) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "test_client", kFast));
  ASSERT_TRUE(client.Start().ok());
  FakeServer::Received got;
  ASSERT_TRUE(server.ReceiveOf<Hello>(&got, kWait));
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(Encode(FakeServer::MakeWelcome(1, 1), &bytes).ok());
  std::memcpy(bytes.data() + 4, "SDB2", 4);  // a Welcome of another major's file_identifier
  server.SendRaw(got.identity, bytes);
  ClientEvent e = ExpectEvent(client, ClientEventKind::kWarning);  // "message from server ignored"
  EXPECT_EQ(e.wire_error, WireError::kWrongIdentifier) << e.message;
  e = ExpectEvent(client, ClientEventKind::kError);
  EXPECT_EQ(e.status, StatusCode::kVersionMismatch) << e.message;
  EXPECT_EQ(e.wire_error, WireError::kWrongIdentifier);
  EXPECT_TRUE(client.WaitForState(ConnectionState::kRefused, kWait));
}

// A server Error's event carries its wire code: client_parity_test's AnErrorThatLeavesTheSessionUpIsNoDisconnect.

TEST(Client, WelcomeWithAnotherMajorIsRefusedNamingBothVersions) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "test_client", kFast));
  ASSERT_TRUE(client.Start().ok());
  FakeServer::Received got;
  ASSERT_TRUE(server.ReceiveOf<Hello>(&got, kWait));
  Welcome w = FakeServer::MakeWelcome(1, 1);
  w.protocol_major = static_cast<uint16_t>(kProtocolMajor + 1);
  server.Send(got.identity, w);
  ClientEvent e = ExpectEvent(client, ClientEventKind::kError);
  EXPECT_EQ(e.status, StatusCode::kVersionMismatch);
  const std::string theirs = std::to_string(kProtocolMajor + 1) + "." + std::to_string(kProtocolMinor);
  const std::string ours = std::to_string(kProtocolMajor) + "." + std::to_string(kProtocolMinor);
  EXPECT_NE(e.message.find(theirs), std::string::npos) << e.message;
  EXPECT_NE(e.message.find(ours), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("install"), std::string::npos) << e.message;
  EXPECT_TRUE(client.WaitForState(ConnectionState::kRefused, kWait));
}

TEST(Client, MinorMismatchIsAcceptedWithAWarning) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "test_client", kFast));
  ASSERT_TRUE(client.Start().ok());
  FakeServer::Received got;
  ASSERT_TRUE(server.ReceiveOf<Hello>(&got, kWait));
  Welcome w = FakeServer::MakeWelcome(1, 1);
  w.protocol_minor = static_cast<uint16_t>(kProtocolMinor + 1);
  server.Send(got.identity, w);
  ClientEvent e = ExpectEvent(client, ClientEventKind::kWarning);
  EXPECT_NE(e.message.find("same major"), std::string::npos) << e.message;
  EXPECT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
}

TEST(Client, LostSessionErrorTriggersNewHandshakeAndReplaysSettings) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "test_client", kFast));
  ASSERT_TRUE(client.Start().ok());
  const std::string first = Handshake(server, 1, 1);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  ASSERT_TRUE(client.SetPrompt(testing::SamplePrompt()).ok());
  Params p;
  p.guidance_scale = 1.5f;
  ASSERT_TRUE(client.SetParams(p).ok());
  Params q;
  q.seed = 9;
  ASSERT_TRUE(client.SetParams(q).ok());
  FakeServer::Received got;
  ASSERT_TRUE(server.ReceiveOf<Params>(&got, kWait));
  ASSERT_TRUE(server.ReceiveOf<Params>(&got, kWait));

  ErrorMessage err;
  err.code = WireError::kUnknownSession;
  err.message = "session unknown (server restarted?)";
  server.Send(first, err);
  // set_unknown_connection: a server without our session is a move (reported as kDisconnected), not an error
  ClientEvent moved = ExpectEvent(client, ClientEventKind::kDisconnected);
  EXPECT_NE(moved.message.find("reconnecting with a new Hello"), std::string::npos) << moved.message;

  Hello hello;
  const std::string second = Handshake(server, 2, 1, &hello);
  EXPECT_NE(second, first);  // a fresh socket, hence a fresh ROUTER identity
  ASSERT_TRUE(server.ReceiveOf<Prompt>(&got, kWait));
  EXPECT_EQ(std::get<Prompt>(got.message).text.value_or(""), "a watercolor castle");
  ASSERT_TRUE(server.ReceiveOf<Params>(&got, kWait));
  const Params& merged = std::get<Params>(got.message);
  EXPECT_EQ(merged.guidance_scale.value_or(0), 1.5f);
  EXPECT_EQ(merged.seed.value_or(0), 9u);
  EXPECT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  EXPECT_EQ(client.GetCounters().sessions, 2u);
  EXPECT_EQ(client.GetWelcome()->session_id, 2u);
}

TEST(Client, ServerByeStartsANewSessionAndNoticesAreDelivered) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "test_client", kFast));
  ASSERT_TRUE(client.Start().ok());
  const std::string first = Handshake(server, 1, 1);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  Notice n;
  n.kind = NoticeKind::kPromptChanged;
  n.message = "prompt changed by the preview page";
  n.source = "preview";
  server.Send(first, n);
  ClientEvent notice = ExpectEvent(client, ClientEventKind::kNotice);
  ASSERT_TRUE(notice.notice.has_value());
  EXPECT_EQ(notice.notice->source.value_or(""), "preview");
  EXPECT_EQ(notice.message, "prompt changed by the preview page");

  server.Send(first, Bye{std::string("server shutting down")});
  ClientEvent bye = ExpectEvent(client, ClientEventKind::kDisconnected);
  EXPECT_NE(bye.message.find("server shutting down"), std::string::npos) << bye.message;
  const std::string second = Handshake(server, 2, 1);
  EXPECT_NE(second, first);
  EXPECT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
}

TEST(Client, ServerRestartOnSamePortReconnects) {
  std::string endpoint;
  auto server = std::make_unique<FakeServer>();
  endpoint = server->endpoint();
  Client client(TestConfig(endpoint, "test_client", kFast));
  ASSERT_TRUE(client.Start().ok());
  Handshake(*server, 1, 1);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  auto px = Pixels(4, 4, 0);
  ASSERT_TRUE(client.SubmitFrame(View(px, 4, 4)).ok());
  FakeServer::Received f;
  ASSERT_TRUE(server->ReceiveOf<FrameHeader>(&f, kWait));

  server.reset();  // the server dies with our frame in flight
  ClientEvent e = ExpectEvent(client, ClientEventKind::kDisconnected);
  EXPECT_FALSE(e.message.empty());
  ASSERT_TRUE(client.SubmitFrame(View(px, 4, 4)).ok());  // kept until the new session
  FakeServer restarted(endpoint);
  Handshake(restarted, 2, 1);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  ASSERT_TRUE(restarted.ReceiveOf<FrameHeader>(&f, kWait));
  EXPECT_EQ(std::get<FrameHeader>(f.message).session_id, 2u);
  restarted.Echo(f);
  FrameResult r;
  EXPECT_TRUE(client.WaitForResult(&r, kWait));
}

TEST(Client, IdleClientSendsHeartbeatPings) {
  FakeServer server;
  ClientConfig cfg = TestConfig(server.endpoint(), "test_client", kFast);
  cfg.heartbeat_interval = milliseconds(50);
  Client client(cfg);
  ASSERT_TRUE(client.Start().ok());
  Handshake(server, 1, 1);
  FakeServer::Received got;
  ASSERT_TRUE(server.Receive(&got, kWait));
  EXPECT_TRUE(std::holds_alternative<Ping>(got.message)) << MessageName(got.message);
  ASSERT_TRUE(server.Receive(&got, kWait));
  EXPECT_TRUE(std::holds_alternative<Ping>(got.message)) << MessageName(got.message);
}

TEST(Client, SilentServerIsDroppedAfterPeerTimeout) {
  FakeServer server;
  ClientConfig cfg = TestConfig(server.endpoint(), "test_client", kFast);
  cfg.heartbeat_interval = milliseconds(50);
  cfg.peer_timeout = milliseconds(300);
  Client client(cfg);
  ASSERT_TRUE(client.Start().ok());
  Handshake(server, 1, 1);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  // Never answer the pings: the client gives up on this session and says Hello again.
  FakeServer::Received got;
  bool hello_again = false;
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (!hello_again && std::chrono::steady_clock::now() < deadline) {
    if (server.Receive(&got, milliseconds(100))) hello_again = std::holds_alternative<Hello>(got.message);
  }
  ASSERT_TRUE(hello_again);
  ClientEvent e = ExpectEvent(client, ClientEventKind::kDisconnected);
  EXPECT_NE(e.message.find("peer_timeout"), std::string::npos) << e.message;
}

TEST(Client, ResultWithWrongPixelSizeIsReportedNotDelivered) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "test_client", kFast));
  ASSERT_TRUE(client.Start().ok());
  Handshake(server, 1, 1);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  auto px = Pixels(4, 4, 0);
  ASSERT_TRUE(client.SubmitFrame(View(px, 4, 4)).ok());
  FakeServer::Received f;
  ASSERT_TRUE(server.ReceiveOf<FrameHeader>(&f, kWait));
  f.pixels.resize(10);
  server.Echo(f);
  ClientEvent e = ExpectEvent(client, ClientEventKind::kWarning);  // dropped; the session goes on
  EXPECT_EQ(e.status, StatusCode::kMalformed);
  EXPECT_NE(e.message.find("64"), std::string::npos) << e.message;
  FrameResult r;
  EXPECT_FALSE(client.TryGetResult(&r));
  EXPECT_EQ(client.GetCounters().credits, 1u);  // the credit still came back
}

TEST(Client, StopWhileConnectedSaysBye) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "test_client", kFast));
  ASSERT_TRUE(client.Start().ok());
  Handshake(server, 1, 1);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  client.Stop();
  EXPECT_EQ(client.GetState(), ConnectionState::kStopped);
  FakeServer::Received got;
  // Best effort with linger 0: usually delivered on loopback; never blocks.
  if (server.ReceiveOf<Bye>(&got, milliseconds(500))) {
    EXPECT_EQ(std::get<Bye>(got.message).reason.value_or(""), "client stopped");
  }
}

}  // namespace
}  // namespace sdbridge
