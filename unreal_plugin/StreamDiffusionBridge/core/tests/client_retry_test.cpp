// Reconnect tries with backoff and jitter (core/src/client_retry.h, the Python client's client_retry.Backoff):
// the delays on their own; a full replica (Error SessionLimit) then a free one, after a draining replica's
// ServerShutdown notice, with the prompt, params and state replayed (scripted in-process ROUTER, fake_server.h);
// the reconnect window that bounds the tries; a refusal that is not about capacity, not retried; and the real Python
// server with --max-sessions 1 (full, then free).
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>
#include <thread>

#include "client_retry.h"
#include "client_waits.h"
#include "fake_server.h"
#include "python_server.h"
#include "samples.h"
#include "sdbridge/client.h"
#include "test_config.h"

namespace sdbridge {
namespace {

using std::chrono::milliseconds;
using testing::ExpectEvent;
using testing::FakeServer;
using testing::TestConfig;
constexpr milliseconds kWait{5000};

ErrorMessage Full() {
  ErrorMessage e;
  e.code = WireError::kSessionLimit;
  e.field = std::string("limits.max_sessions");
  e.message = std::string("this replica serves 1 sessions already; try again later or another replica");
  e.session_closed = true;
  return e;
}

TEST(Backoff, DelaysAreExponentialCappedAndJittered) {
  client_internal::Backoff backoff(milliseconds(50), milliseconds(1000), 3);
  const int64_t ceilings[] = {50, 100, 200, 400, 800, 1000, 1000, 1000, 1000, 1000};
  std::set<int64_t> drawn;
  int64_t sum = 0;
  for (int64_t ceiling : ceilings) {
    EXPECT_EQ(backoff.Ceiling().count(), ceiling);
    const int64_t d = backoff.NextDelay().count();
    EXPECT_GE(d, 0);
    EXPECT_LE(d, ceiling);
    drawn.insert(d);
    sum += d;
  }
  EXPECT_GE(drawn.size(), 8u) << "drawn, not fixed";
  EXPECT_LT(sum, 7550) << "full jitter draws below the ceilings";
  EXPECT_EQ(backoff.tries(), 10u);
  backoff.Reset();
  EXPECT_EQ(backoff.Ceiling().count(), 50);
  EXPECT_LE(backoff.NextDelay().count(), 50);
  // Many clients of one replica come back spread out, not at one instant.
  std::set<int64_t> firsts;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    client_internal::Backoff b(milliseconds(50), milliseconds(1000), seed);
    for (int i = 0; i < 4; ++i) (void)b.NextDelay();
    firsts.insert(b.NextDelay().count());  // fifth try: uniform in [0, 800]
  }
  EXPECT_GE(firsts.size(), 15u);
}

TEST(ClientRetry, DrainingReplicaThenFullReplicaThenFreeOneReplaysTheSession) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "retry_test"));
  ASSERT_TRUE(client.Start().ok());
  FakeServer::Received got;
  ASSERT_TRUE(server.ReceiveOf<Hello>(&got, kWait));
  const std::string first = got.identity;
  server.Send(first, FakeServer::MakeWelcome(1, 1));
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  ASSERT_TRUE(client.SetPrompt(testing::SamplePrompt()).ok());
  Params p;
  p.guidance_scale = 1.5f;
  ASSERT_TRUE(client.SetParams(p).ok());
  State st;
  st.entries.emplace();
  st.entries->push_back(KeyValue{"biome", Value(std::string("desert"))});
  ASSERT_TRUE(client.SetState(st).ok());
  ASSERT_TRUE(server.ReceiveOf<State>(&got, kWait));

  Notice shutdown;
  shutdown.kind = NoticeKind::kServerShutdown;
  shutdown.source = std::string("drain");
  shutdown.message = std::string("this replica is shutting down within 10 s; reconnect");
  server.Send(first, shutdown);
  ASSERT_TRUE(server.ReceiveOf<Bye>(&got, kWait)) << "the client frees its session on the draining replica";
  EXPECT_EQ(got.identity, first);
  const ClientEvent moved = ExpectEvent(client, ClientEventKind::kDisconnected);
  EXPECT_NE(moved.message.find("shutting down"), std::string::npos) << moved.message;

  constexpr int kRefusals = 3;  // "the balancer" sends the next tries to a full replica
  std::set<std::string> identities{first};
  for (int i = 0; i < kRefusals; ++i) {
    ASSERT_TRUE(server.ReceiveOf<Hello>(&got, kWait)) << "try " << i;
    identities.insert(got.identity);
    server.Send(got.identity, Full());
  }
  ASSERT_TRUE(server.ReceiveOf<Hello>(&got, kWait)) << "tried again after the refusals";
  identities.insert(got.identity);
  EXPECT_EQ(identities.size(), static_cast<size_t>(kRefusals + 2)) << "each try is a new connection";
  server.Send(got.identity, FakeServer::MakeWelcome(2, 1));
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  ASSERT_TRUE(server.ReceiveOf<Prompt>(&got, kWait));
  EXPECT_EQ(std::get<Prompt>(got.message).text.value_or(""), "a watercolor castle");
  ASSERT_TRUE(server.ReceiveOf<Params>(&got, kWait));
  EXPECT_EQ(std::get<Params>(got.message).guidance_scale.value_or(0), 1.5f);
  ASSERT_TRUE(server.ReceiveOf<State>(&got, kWait));
  ASSERT_TRUE(std::get<State>(got.message).entries.has_value());
  EXPECT_EQ(std::get<State>(got.message).entries->size(), 1u);
  EXPECT_EQ(client.GetCounters().sessions, 2u);
  EXPECT_EQ(client.GetWelcome()->session_id, 2u);
}

TEST(ClientRetry, TriesStopWhenTheWindowIsOverAndReconnectStartsAgain) {
  FakeServer server;
  ClientConfig config = TestConfig(server.endpoint(), "retry_test");
  config.reconnect_window = milliseconds(400);
  Client client(config);
  ASSERT_TRUE(client.Start().ok());
  FakeServer::Received got;
  int refused = 0;
  while (client.GetState() != ConnectionState::kRefused) {  // every replica is full
    if (!server.ReceiveOf<Hello>(&got, milliseconds(200))) continue;
    server.Send(got.identity, Full());
    ++refused;
    ASSERT_LT(refused, 200) << "the window must end the tries";
  }
  EXPECT_GE(refused, 2) << "tried again within the window";
  const ClientEvent gave_up = ExpectEvent(client, ClientEventKind::kError);
  bool named = false;
  for (ClientEvent e = gave_up;; ) {  // the refusals' events come first
    if (e.message.find("reconnect_window") != std::string::npos) {
      named = true;
      EXPECT_EQ(e.status, StatusCode::kTimeout);
      break;
    }
    if (!client.WaitForEvent(&e, milliseconds(500))) break;
  }
  EXPECT_TRUE(named) << "an event names ClientConfig.reconnect_window";
  // No try after giving up (Hellos arrived above, so one could have)...
  while (server.ReceiveOf<Hello>(&got, milliseconds(0))) server.Send(got.identity, Full());  // sent before kRefused
  EXPECT_FALSE(server.ReceiveOf<Hello>(&got, milliseconds(600)));
  EXPECT_EQ(client.GetState(), ConnectionState::kRefused);
  // ...until Reconnect().
  ASSERT_TRUE(client.Reconnect().ok());
  ASSERT_TRUE(server.ReceiveOf<Hello>(&got, kWait));
  server.Send(got.identity, FakeServer::MakeWelcome(5, 1));
  EXPECT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
}

// A refused Hello that is not about capacity (set_capacity_refusal in bridge.fbs) is not retried: exactly one Hello,
// the error surfaces with its wire code and the state is kRefused until Reconnect(); a SessionLimit refusal after
// that Reconnect() is retried by itself (so the silence above is the classification, not a slow retry).
TEST(ClientRetry, ANonCapacityRefusalIsNotRetriedAndACapacityOneIs) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "retry_test"));
  ASSERT_TRUE(client.Start().ok());
  FakeServer::Received got;
  ASSERT_TRUE(server.ReceiveOf<Hello>(&got, kWait));
  ErrorMessage bad;
  bad.code = WireError::kBadParam;
  bad.field = std::string("Hello.client_name");
  bad.message = std::string("client_name is empty");
  bad.session_closed = true;
  server.Send(got.identity, bad);
  const ClientEvent e = ExpectEvent(client, ClientEventKind::kError);
  EXPECT_EQ(e.wire_error, WireError::kBadParam) << e.message;
  EXPECT_EQ(e.status, StatusCode::kRefused) << e.message;
  ASSERT_TRUE(e.error.has_value());
  EXPECT_EQ(e.error->code, WireError::kBadParam);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kRefused, kWait));
  EXPECT_FALSE(server.ReceiveOf<Hello>(&got, milliseconds(600))) << "exactly one Hello";
  EXPECT_EQ(client.GetState(), ConnectionState::kRefused);

  ASSERT_TRUE(client.Reconnect().ok());
  ASSERT_TRUE(server.ReceiveOf<Hello>(&got, kWait));
  server.Send(got.identity, Full());
  ASSERT_TRUE(server.ReceiveOf<Hello>(&got, kWait)) << "a capacity refusal is retried without Reconnect()";
  server.Send(got.identity, FakeServer::MakeWelcome(3, 1));
  EXPECT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
}

// The real server, full (--max-sessions 1, held by another client), then free: the waiting client gets in.
TEST(ClientRetry, RealServerFullThenFreeLetsTheWaitingClientIn) {
  SDB_SKIP_WITHOUT_PYTHON();
  const std::string python = testing::PythonFromEnvironment();
  std::string error;
  auto server = testing::PythonServer::Start(python, "identity", "tcp://127.0.0.1:*", {"--max-sessions", "1"},
                                             milliseconds(120000), &error);
  ASSERT_NE(server, nullptr) << error;
  auto holder = std::make_unique<Client>(TestConfig(server->endpoint(), "retry_test"));
  ASSERT_TRUE(holder->Start().ok());
  ASSERT_TRUE(holder->WaitForState(ConnectionState::kConnected, milliseconds(30000)));

  Client waiting(TestConfig(server->endpoint(), "retry_test"));
  ASSERT_TRUE(waiting.Start().ok());
  int refusals = 0;
  ClientEvent e;
  while (refusals < 2) {  // refused for capacity, and tried again
    ASSERT_TRUE(waiting.WaitForEvent(&e, milliseconds(30000))) << "no refusal event";
    if (e.kind == ClientEventKind::kError && e.wire_error == WireError::kSessionLimit) ++refusals;
  }
  EXPECT_NE(waiting.GetState(), ConnectionState::kConnected);
  holder->Stop();  // its Bye frees the replica
  ASSERT_TRUE(waiting.WaitForState(ConnectionState::kConnected, milliseconds(30000)));
  EXPECT_EQ(waiting.GetCounters().sessions, 1u);
}

}  // namespace
}  // namespace sdbridge
