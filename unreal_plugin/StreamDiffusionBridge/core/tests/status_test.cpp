// connection_status.h and log_policy.h: the status snapshot an engine's details panel
// shows (state, results/s, round trip, last error) and the log-once policy for connection failures, as pure
// units and through a real Client against a scripted server (fake_server.h) and against a closed port.
#include <gtest/gtest.h>

#include <thread>

#include "client_waits.h"
#include "fake_server.h"
#include "sdbridge/client.h"
#include "sdbridge/connection_status.h"
#include "sdbridge/log_policy.h"
#include "test_config.h"

namespace sdbridge {
namespace {

using std::chrono::milliseconds;
using testing::Eventually;
using testing::FakeServer;
using testing::TestConfig;
constexpr milliseconds kWait{5000};

ClientEvent MakeEvent(ClientEventKind kind, StatusCode status, const std::string& message) {
  ClientEvent e;
  e.kind = kind;
  e.status = status;
  e.message = message;
  return e;
}

TEST(StatusTracker, RateAndRoundTripOverTheWindow) {
  StatusTracker t("tcp://h:1", 1000000);
  const uint64_t base = 10000000;
  for (uint64_t i = 0; i < 30; ++i) t.OnResult(base + i * 33333 - 40000, base + i * 33333);  // 30 at 30/s, 40 ms
  StatusSnapshot s = t.Snapshot(base + 29 * 33333);
  EXPECT_EQ(s.endpoint, "tcp://h:1");
  EXPECT_DOUBLE_EQ(s.results_per_second, 30.0);
  EXPECT_DOUBLE_EQ(s.round_trip_ms, 40.0);
  EXPECT_DOUBLE_EQ(s.last_round_trip_ms, 40.0);
  EXPECT_EQ(s.results_received, 30u);
  // Two seconds later nothing arrived: the rate falls to 0, the totals and the last round trip stay.
  s = t.Snapshot(base + 3000000);
  EXPECT_DOUBLE_EQ(s.results_per_second, 0.0);
  EXPECT_DOUBLE_EQ(s.round_trip_ms, 0.0);
  EXPECT_DOUBLE_EQ(s.last_round_trip_ms, 40.0);
  EXPECT_EQ(s.results_received, 30u);
}

TEST(StatusTracker, UnknownCaptureTimeCountsButHasNoRoundTrip) {
  StatusTracker t("e");
  t.OnResult(0, 5000000);
  t.OnResult(4990000, 5000000);  // 10 ms
  const StatusSnapshot s = t.Snapshot(5000000);
  EXPECT_DOUBLE_EQ(s.results_per_second, 2.0);
  EXPECT_DOUBLE_EQ(s.round_trip_ms, 10.0);
}

TEST(StatusTracker, ErrorsAndFailedAttemptsResetOnConnect) {
  StatusTracker t("e");
  t.OnState(ConnectionState::kConnecting);
  t.OnError("no Welcome", 100, true);
  t.OnError("no Welcome", 200, true);
  t.OnError("bad param", 300, false);
  StatusSnapshot s = t.Snapshot(400);
  EXPECT_EQ(s.state, ConnectionState::kConnecting);
  EXPECT_EQ(s.failed_attempts, 2u);
  EXPECT_EQ(s.last_error, "bad param");
  EXPECT_EQ(s.last_error_time_us, 300u);
  t.OnState(ConnectionState::kConnected);
  s = t.Snapshot(500);
  EXPECT_EQ(s.failed_attempts, 0u);
  EXPECT_EQ(s.last_error, "bad param");  // the last error stays visible after reconnecting
}

TEST(StatusTracker, SnapshotsFromAnotherThreadWhileResultsArrive) {
  StatusTracker t("e", 1000000);
  std::thread writer([&] {
    for (uint64_t i = 1; i <= 20000; ++i) t.OnResult(i, i + 10);
  });
  uint64_t seen = 0;
  while (seen < 20000) seen = t.Snapshot(30000).results_received;  // never blocks for long, never tears
  writer.join();
  EXPECT_EQ(t.Snapshot(30000).results_received, 20000u);
}

TEST(LogPolicy, FirstHandshakeFailureIsAnErrorRetriesAreVerboseUntilConnected) {
  ConnectionLogPolicy p;
  const ClientEvent timeout = MakeEvent(ClientEventKind::kError, StatusCode::kTimeout, "no Welcome from tcp://x:1");
  EXPECT_EQ(p.LevelFor(timeout), LogLevel::kError);
  EXPECT_FALSE(p.last_was_retry());
  EXPECT_EQ(p.LevelFor(timeout), LogLevel::kVerbose);
  EXPECT_TRUE(p.last_was_retry());
  EXPECT_EQ(p.LevelFor(MakeEvent(ClientEventKind::kDisconnected, StatusCode::kNotConnected, "peer gone")),
            LogLevel::kVerbose);
  EXPECT_EQ(p.LevelFor(MakeEvent(ClientEventKind::kConnected, StatusCode::kOk, "connected")), LogLevel::kInfo);
  // A lost session after a Welcome: a warning, then the next outage is reported loudly once more.
  EXPECT_EQ(p.LevelFor(MakeEvent(ClientEventKind::kDisconnected, StatusCode::kTimeout, "silent")), LogLevel::kWarning);
  EXPECT_EQ(p.LevelFor(timeout), LogLevel::kError);
  EXPECT_EQ(p.LevelFor(timeout), LogLevel::kVerbose);
}

TEST(LogPolicy, RepeatedIdenticalErrorsAreQuietDifferentOnesAreNot) {
  ConnectionLogPolicy p;
  ClientEvent bad = MakeEvent(ClientEventKind::kError, StatusCode::kRefused, "Params.guidance_scale 99 > 20");
  bad.error = ErrorMessage{};
  bad.error->code = WireError::kBadParam;
  EXPECT_FALSE(IsConnectionFailure(bad));  // a server Error is about a message, not the connection
  EXPECT_EQ(p.LevelFor(bad), LogLevel::kError);
  EXPECT_EQ(p.LevelFor(bad), LogLevel::kVerbose);
  bad.message = "Params.delta -1 < 0";
  EXPECT_EQ(p.LevelFor(bad), LogLevel::kError);
  EXPECT_EQ(p.LevelFor(MakeEvent(ClientEventKind::kWarning, StatusCode::kOk, "minor differs")), LogLevel::kWarning);
  EXPECT_EQ(p.LevelFor(MakeEvent(ClientEventKind::kStats, StatusCode::kOk, "")), LogLevel::kVerbose);
  EXPECT_STREQ(LogLevelName(LogLevel::kVerbose), "Verbose");
}

// Quick handshake timeouts and reconnect tries (the status after a few failed tries); ClientConfig's peer_timeout.
const testing::TestTimeouts kFast = testing::TestTimeouts()
    .Handshake(milliseconds(150)).Reconnect(milliseconds(20), milliseconds(50)).Peer(ClientConfig{}.peer_timeout);

TEST(ClientStatus, NoServerShowsConnectingWithTheCauseAndTheFix) {
  std::string endpoint;
  {
    FakeServer probe;  // a free port, closed again
    endpoint = probe.endpoint();
  }
  Client client(TestConfig(endpoint, "status_test", kFast));
  ASSERT_TRUE(client.Start().ok());
  ASSERT_TRUE(Eventually([&] { return client.GetStatus().failed_attempts >= 2; }));
  const StatusSnapshot s = client.GetStatus();
  EXPECT_EQ(s.state, ConnectionState::kConnecting);
  EXPECT_EQ(s.endpoint, endpoint);
  EXPECT_NE(s.last_error.find(endpoint), std::string::npos) << s.last_error;          // where
  EXPECT_NE(s.last_error.find("150 ms"), std::string::npos) << s.last_error;          // what happened
  EXPECT_NE(s.last_error.find("sdbridge serve"), std::string::npos) << s.last_error;  // the fixes
  EXPECT_NE(s.last_error.find("firewall"), std::string::npos) << s.last_error;
  EXPECT_NE(s.last_error.find("authorized_keys"), std::string::npos) << s.last_error;
  // Fed through the policy, the events of this outage are one Error and then only Verbose lines.
  ConnectionLogPolicy policy;
  int loud = 0;
  int quiet = 0;
  ClientEvent e;
  while (client.TryGetEvent(&e)) (policy.LevelFor(e) == LogLevel::kVerbose ? quiet : loud)++;
  EXPECT_EQ(loud, 1);
  EXPECT_GE(quiet, 1);
}

TEST(ClientStatus, ResultsGiveRateAndRoundTrip) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "status_test", kFast));
  ASSERT_TRUE(client.Start().ok());
  FakeServer::Received hello;
  ASSERT_TRUE(server.ReceiveOf<Hello>(&hello, kWait));
  server.Send(hello.identity, FakeServer::MakeWelcome(7, 1));
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  EXPECT_EQ(client.GetStatus().state, ConnectionState::kConnected);
  std::vector<uint8_t> px(8 * 4 * 4, 9);
  FrameView v;
  v.pixels = px.data();
  v.size = px.size();
  v.layout = PixelLayout{8, 4, 32, PixelFormat::kRGBA8, RowOrder::kTopDown, ColorSpace::kSRGB, AlphaMode::kIgnore};
  v.capture_time_us = NowMicros() - 25000;  // captured 25 ms ago
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.SubmitFrame(v).ok());
    FakeServer::Received f;
    ASSERT_TRUE(server.ReceiveOf<FrameHeader>(&f, kWait));
    server.Echo(f);
    FrameResult r;
    ASSERT_TRUE(client.WaitForResult(&r, kWait));
  }
  const StatusSnapshot s = client.GetStatus();
  EXPECT_EQ(s.results_received, 3u);
  EXPECT_GT(s.results_per_second, 0.0);
  EXPECT_GE(s.round_trip_ms, 25.0);
  EXPECT_LT(s.round_trip_ms, 25.0 + 5000.0);
  EXPECT_EQ(s.failed_attempts, 0u);
}

}  // namespace
}  // namespace sdbridge
