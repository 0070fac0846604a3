// The C++ client does with what a server sends what the Python reference client (and the C# one) does, against a
// scripted in-process ROUTER (fake_server.h); each test names the behaviour and the other clients' counterpart.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client_waits.h"
#include "fake_server.h"
#include "sdbridge/client.h"
#include "sdbridge/log_policy.h"
#include "test_config.h"

namespace sdbridge {
namespace {

using std::chrono::milliseconds;
using testing::ExpectEvent;
using testing::FakeServer;
using testing::Handshake;
using testing::TestConfig;
using testing::View;
constexpr milliseconds kWait{5000};

const testing::TestTimeouts& kFast = testing::kQuickReconnect;

// The server frees the session of `identity` (SessionExpired, set_session_gone): the client reconnects.
void FreeSession(FakeServer& server, const std::string& identity) {
  ErrorMessage gone;
  gone.code = WireError::kSessionExpired;
  gone.message = "session freed";
  server.Send(identity, gone);
}

// The kinds of the events that arrive within `within` (the client's order).
std::vector<ClientEventKind> EventsWithin(Client& client, milliseconds within, std::vector<ClientEvent>* events) {
  std::vector<ClientEventKind> kinds;
  const auto deadline = std::chrono::steady_clock::now() + within;
  ClientEvent e;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!client.WaitForEvent(&e, milliseconds(20))) continue;
    kinds.push_back(e.kind);
    events->push_back(e);
  }
  return kinds;
}

// SessionExpired (set_session_gone) and an Error with session_closed end the session: the game sees the error
// (kError, with the server's Error) and then a kDisconnected naming it, as after a Bye or a ServerShutdown, and the
// client says Hello again. (The Python client logs the error and reconnects; the C# core raises ServerError then
// Disconnected.)
TEST(ClientParity, AnErrorThatEndsTheSessionIsAlsoADisconnect) {
  for (const bool by_flag : {false, true}) {
    FakeServer server;
    Client client(TestConfig(server.endpoint(), "parity", kFast));
    ASSERT_TRUE(client.Start().ok());
    const std::string first = Handshake(server, 1, 1);
    ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
    ExpectEvent(client, ClientEventKind::kConnected);
    ErrorMessage err;
    err.code = by_flag ? WireError::kInternal : WireError::kSessionExpired;
    err.message = by_flag ? "worker died; session closed" : "no heartbeat for 30 s: session freed";
    err.session_closed = by_flag;
    server.Send(first, err);
    const ClientEvent error = ExpectEvent(client, ClientEventKind::kError);
    ASSERT_TRUE(error.error.has_value());
    EXPECT_EQ(error.error->code, err.code);
    const ClientEvent lost = ExpectEvent(client, ClientEventKind::kDisconnected);
    EXPECT_NE(lost.message.find(*err.message), std::string::npos) << lost.message;
    EXPECT_NE(lost.message.find("reconnecting"), std::string::npos) << lost.message;
    EXPECT_EQ(lost.wire_error, err.code);
    Handshake(server, 2, 1);
    EXPECT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
    EXPECT_EQ(client.GetCounters().errors_received, 1u);
  }
}

// An Error that leaves the session up (BadParam) is one kError and nothing else.
TEST(ClientParity, AnErrorThatLeavesTheSessionUpIsNoDisconnect) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "parity", kFast));
  ASSERT_TRUE(client.Start().ok());
  const std::string identity = Handshake(server, 1, 1);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  ErrorMessage err;
  err.code = WireError::kBadParam;
  err.message = "Params.guidance_scale=99 is outside [0, 30]";
  server.Send(identity, err);
  std::vector<ClientEvent> events;
  const std::vector<ClientEventKind> kinds = EventsWithin(client, milliseconds(400), &events);
  ASSERT_EQ(kinds, (std::vector<ClientEventKind>{ClientEventKind::kConnected, ClientEventKind::kError}));
  EXPECT_EQ(events[1].wire_error, WireError::kBadParam) << events[1].message;  // the event carries the wire code
  EXPECT_EQ(events[1].status, StatusCode::kInvalidArgument);
  EXPECT_EQ(client.GetState(), ConnectionState::kConnected);
}

// Result.credits_granted left at 0 still returns the frame's credit (the Python client's `credits_granted or 1`,
// the C# CreditWindow's): the next frame goes out instead of waiting for a credit that never comes.
TEST(ClientParity, AResultGrantingNoCreditStillReturnsItsFramesCredit) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "parity", kFast));
  ASSERT_TRUE(client.Start().ok());
  Handshake(server, 1, 1);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  std::vector<uint8_t> px(4 * 4 * 4, 7);
  ASSERT_TRUE(client.SubmitFrame(View(px, 4, 4)).ok());
  FakeServer::Received f;
  ASSERT_TRUE(server.ReceiveOf<FrameHeader>(&f, kWait));
  server.Echo(f, /*credits=*/0);
  FrameResult r;
  ASSERT_TRUE(client.WaitForResult(&r, kWait));
  EXPECT_EQ(client.GetCounters().credits, 1u);
  EXPECT_EQ(client.GetCounters().in_flight, 0u);
  ASSERT_TRUE(client.SubmitFrame(View(px, 4, 4)).ok());
  EXPECT_TRUE(server.ReceiveOf<FrameHeader>(&f, kWait)) << "the second frame never left: no credit";
}

// A message the client cannot decode is dropped with a warning (kWarning, kMalformed; the Python client logs a
// warning, the C# core raises a Warning event); the session goes on and the next Result arrives.
TEST(ClientParity, AMalformedMessageIsAWarningAndTheSessionGoesOn) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "parity", kFast));
  ASSERT_TRUE(client.Start().ok());
  const std::string identity = Handshake(server, 1, 1);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  server.SendRaw(identity, std::vector<uint8_t>(40, 0xAB));
  std::vector<ClientEvent> events;
  const std::vector<ClientEventKind> kinds = EventsWithin(client, milliseconds(400), &events);
  ASSERT_EQ(kinds, (std::vector<ClientEventKind>{ClientEventKind::kConnected, ClientEventKind::kWarning}));
  EXPECT_EQ(events[1].status, StatusCode::kMalformed) << events[1].message;
  LogLevel level = ConnectionLogPolicy().LevelFor(events[1]);
  EXPECT_EQ(level, LogLevel::kWarning) << LogLevelName(level);
  std::vector<uint8_t> px(4 * 4 * 4, 9);
  ASSERT_TRUE(client.SubmitFrame(View(px, 4, 4)).ok());
  FakeServer::Received f;
  ASSERT_TRUE(server.ReceiveOf<FrameHeader>(&f, kWait));
  server.Echo(f);
  FrameResult r;
  EXPECT_TRUE(client.WaitForResult(&r, kWait));
  EXPECT_EQ(client.GetState(), ConnectionState::kConnected);
}

// Reconnect() on an open session says Bye("reconnect") before the new Hello, as the Python client's reconnect() (and
// the C# core) does: the server frees the old session at once instead of holding it until its heartbeat timeout (a
// one-session replica would refuse the new Hello with SessionLimit meanwhile).
TEST(ClientParity, ReconnectSaysByeSoTheServerFreesTheOldSession) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "parity", kFast));
  ASSERT_TRUE(client.Start().ok());
  const std::string first = Handshake(server, 1, 1);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  ASSERT_TRUE(client.Reconnect().ok());
  std::string bye_from;
  std::string bye_reason;
  bool hello_again = false;
  FakeServer::Received got;
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while ((bye_from.empty() || !hello_again) && std::chrono::steady_clock::now() < deadline) {
    if (!server.Receive(&got, milliseconds(100))) continue;
    if (const Bye* bye = std::get_if<Bye>(&got.message)) {
      bye_from = got.identity;
      bye_reason = bye->reason.value_or("");
    } else if (std::holds_alternative<Hello>(got.message)) {
      hello_again = true;
      server.Send(got.identity, FakeServer::MakeWelcome(2, 1));
    }
  }
  EXPECT_EQ(bye_from, first) << "no Bye from the session left";
  EXPECT_EQ(bye_reason, "reconnect");
  ASSERT_TRUE(hello_again);
  EXPECT_TRUE(testing::Eventually([&] { return client.GetCounters().sessions == 2; }));
}

// The params a reconnect replays keep only the newer of seed and seed_blend, as the Python client's
// SessionReplay.remember_params (and the C# core) does: the server applies a seed_blend after a seed, so replaying both
// brought back a blend the game had replaced with a seed.
TEST(ClientParity, TheReplayedParamsKeepOnlyTheNewerOfSeedAndSeedBlend) {
  for (const bool seed_last : {true, false}) {
    FakeServer server;
    Client client(TestConfig(server.endpoint(), "parity", kFast));
    ASSERT_TRUE(client.Start().ok());
    const std::string first = Handshake(server, 1, 1);
    ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
    Params blend;
    blend.seed_blend = std::vector<SeedWeight>{{1, 0.5f}, {2, 0.5f}};
    blend.guidance_scale = 1.2f;
    Params seed;
    seed.seed = 5;
    ASSERT_TRUE(client.SetParams(seed_last ? blend : seed).ok());
    ASSERT_TRUE(client.SetParams(seed_last ? seed : blend).ok());
    FakeServer::Received got;
    ASSERT_TRUE(server.ReceiveOf<Params>(&got, kWait));
    ASSERT_TRUE(server.ReceiveOf<Params>(&got, kWait));
    FreeSession(server, first);
    Handshake(server, 2, 1);
    ASSERT_TRUE(server.ReceiveOf<Params>(&got, kWait));
    const Params& replayed = std::get<Params>(got.message);
    EXPECT_EQ(replayed.seed.has_value(), seed_last) << "seed last: " << seed_last;
    EXPECT_EQ(replayed.seed_blend.has_value(), !seed_last) << "seed last: " << seed_last;
    EXPECT_EQ(replayed.guidance_scale.value_or(0), 1.2f);
  }
}

// set_unknown_connection (UnknownSession, NotHello): the client moves by itself, which the schema says to report
// as information: the log policy says Info (the Python client logs INFO, the C# core Info), not a Warning.
TEST(ClientParity, AServerWithoutThisConnectionsSessionIsLoggedAsInformation) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "parity", kFast));
  ASSERT_TRUE(client.Start().ok());
  const std::string first = Handshake(server, 1, 1);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  ErrorMessage err;
  err.code = WireError::kUnknownSession;
  err.message = "session unknown";
  server.Send(first, err);
  const ClientEvent moved = ExpectEvent(client, ClientEventKind::kDisconnected);
  ConnectionLogPolicy policy;
  LogLevel level = policy.LevelFor(moved);
  EXPECT_EQ(level, LogLevel::kInfo) << LogLevelName(level) << ": " << moved.message;
  // any other lost session stays a warning
  ClientEvent silent = moved;
  silent.error.reset();
  silent.status = StatusCode::kTimeout;
  level = policy.LevelFor(silent);
  EXPECT_EQ(level, LogLevel::kWarning) << LogLevelName(level);
}

// Settings set while the session is down are queued; the new session's replay carries them already (the latest
// prompt, the merged params, the whole state), so the queued copies are not sent as well: the server gets each once,
// as from the Python client, whose reconnect() sends the SessionReplay once. A queued message that the replay does
// not carry (a stats request, a game event) still goes out.
TEST(ClientParity, SettingsQueuedDuringAnOutageAreSentOnceAfterTheReplay) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "parity", kFast));
  ASSERT_TRUE(client.Start().ok());
  const std::string first = Handshake(server, 1, 1);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  Prompt before;
  before.text = "before the outage";
  ASSERT_TRUE(client.SetPrompt(before).ok());
  FakeServer::Received got;
  ASSERT_TRUE(server.ReceiveOf<Prompt>(&got, kWait));
  FreeSession(server, first);
  ASSERT_TRUE(testing::Eventually([&] { return client.GetState() != ConnectionState::kConnected; }));
  Prompt during;
  during.text = "during the outage";
  ASSERT_TRUE(client.SetPrompt(during).ok());
  Params params;
  params.guidance_scale = 1.25f;
  ASSERT_TRUE(client.SetParams(params).ok());
  State state;
  state.entries.emplace();
  state.entries->push_back(KeyValue{"level", std::string("3")});
  ASSERT_TRUE(client.SetState(state).ok());
  ASSERT_TRUE(client.RequestStats().ok());
  Handshake(server, 2, 1);
  std::vector<std::string> prompts;
  int params_seen = 0;
  int states_seen = 0;
  int stats_requests = 0;
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(800);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!server.Receive(&got, milliseconds(50))) continue;
    if (const Prompt* p = std::get_if<Prompt>(&got.message)) prompts.push_back(p->text.value_or(""));
    params_seen += std::holds_alternative<Params>(got.message);
    states_seen += std::holds_alternative<State>(got.message);
    stats_requests += std::holds_alternative<StatsRequest>(got.message);
  }
  EXPECT_EQ(prompts, std::vector<std::string>{"during the outage"});
  EXPECT_EQ(params_seen, 1);
  EXPECT_EQ(states_seen, 1);
  EXPECT_EQ(stats_requests, 1) << "a queued message the replay does not carry must still be sent";
}

// Without the replay (ClientConfig.replay_settings_on_reconnect off) the queued settings are the only copy: sent.
TEST(ClientParity, WithoutTheReplayQueuedSettingsAreStillSent) {
  FakeServer server;
  ClientConfig config = TestConfig(server.endpoint(), "parity", kFast);
  config.replay_settings_on_reconnect = false;
  Client client(config);
  ASSERT_TRUE(client.Start().ok());
  const std::string first = Handshake(server, 1, 1);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  FreeSession(server, first);
  ASSERT_TRUE(testing::Eventually([&] { return client.GetState() != ConnectionState::kConnected; }));
  Prompt during;
  during.text = "during the outage";
  ASSERT_TRUE(client.SetPrompt(during).ok());
  Handshake(server, 2, 1);
  FakeServer::Received got;
  ASSERT_TRUE(server.ReceiveOf<Prompt>(&got, kWait));
  EXPECT_EQ(std::get<Prompt>(got.message).text.value_or(""), "during the outage");
}

// Reconnect() on an open session reports the session left as a kDisconnected (then kConnected for the new one), as
// the C# core raises Disconnected ("reconnect requested by the application") and the Python client's reconnect()
// marks the session lost until the new Welcome.
TEST(ClientParity, ReconnectReportsTheSessionLeftAsADisconnect) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "parity", kFast));
  ASSERT_TRUE(client.Start().ok());
  Handshake(server, 1, 1);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  ExpectEvent(client, ClientEventKind::kConnected);
  ASSERT_TRUE(client.Reconnect().ok());
  const ClientEvent lost = ExpectEvent(client, ClientEventKind::kDisconnected);
  EXPECT_NE(lost.message.find("Reconnect()"), std::string::npos) << lost.message;
  EXPECT_NE(lost.message.find(server.endpoint()), std::string::npos) << lost.message;
  Handshake(server, 2, 1);
  ExpectEvent(client, ClientEventKind::kConnected);
  LogLevel level = ConnectionLogPolicy().LevelFor(lost);
  EXPECT_EQ(level, LogLevel::kInfo) << LogLevelName(level) << ": the game asked for it, nothing went wrong";
  EXPECT_FALSE(IsConnectionFailure(lost));
  EXPECT_EQ(client.GetStatus().last_error, "") << "a session left on purpose is no error to show";
}

// A server Error during a session is logged as a warning, as the Python client's _log_server_error logs it at
// WARNING, whether the session stays up (BadParam) or ends (SessionExpired: the kDisconnected that follows says so);
// a refused Hello stays an Error (the Python client raises it to the caller: the user has to act).
TEST(ClientParity, AServerErrorDuringASessionIsLoggedAsAWarning) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "parity", kFast));
  ASSERT_TRUE(client.Start().ok());
  const std::string first = Handshake(server, 1, 1);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  ConnectionLogPolicy policy;
  EXPECT_EQ(policy.LevelFor(ExpectEvent(client, ClientEventKind::kConnected)), LogLevel::kInfo);
  ErrorMessage bad;
  bad.code = WireError::kBadParam;
  bad.message = "Params.guidance_scale=99 is outside [0, 30]";
  server.Send(first, bad);
  const ClientEvent rejected = ExpectEvent(client, ClientEventKind::kError);
  LogLevel level = policy.LevelFor(rejected);
  EXPECT_EQ(level, LogLevel::kWarning) << LogLevelName(level) << ": " << rejected.message;
  level = policy.LevelFor(rejected);
  EXPECT_EQ(level, LogLevel::kVerbose) << LogLevelName(level) << ": the same error again is quiet";
  FreeSession(server, first);
  const ClientEvent ended = ExpectEvent(client, ClientEventKind::kError);
  level = policy.LevelFor(ended);
  EXPECT_EQ(level, LogLevel::kWarning) << LogLevelName(level) << ": " << ended.message;
  level = policy.LevelFor(ExpectEvent(client, ClientEventKind::kDisconnected));
  EXPECT_EQ(level, LogLevel::kWarning) << LogLevelName(level);
  FakeServer::Received hello;
  ASSERT_TRUE(server.ReceiveOf<Hello>(&hello, kWait));
  ErrorMessage refused;
  refused.code = WireError::kBadMessage;
  refused.message = "client_name is empty";
  server.Send(hello.identity, refused);
  const ClientEvent refusal = ExpectEvent(client, ClientEventKind::kError);
  level = policy.LevelFor(refusal);
  EXPECT_EQ(level, LogLevel::kError) << LogLevelName(level) << ": " << refusal.message;
}

}  // namespace
}  // namespace sdbridge
