// Reliability and security against the real Python server (identity model, real tcp loopback):
// - after a server restart the client handshakes again within 2 s of the new server being ready, with
//   the default ClientConfig reconnect settings;
// - CurveZMQ with the server's client allow-list (`sdbridge keys generate`, `serve --curve-secret-key
//   --authorized-keys`): a key on the list streams, a key not on it is refused and told so.
// Needs SDBRIDGE_PYTHON (ctest sets it from -DSDB_PYTHON); skips without it unless SDBRIDGE_REQUIRE_E2E=1.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "client_waits.h"
#include "python_server.h"
#include "sdbridge/client.h"

namespace sdbridge {
namespace {

using std::chrono::milliseconds;
using testing::PythonServer;
using Clock = std::chrono::steady_clock;
constexpr milliseconds kServerStart{120000};
constexpr milliseconds kWait{30000};

std::unique_ptr<PythonServer> Start(const std::string& bind, const std::vector<std::string>& extra = {}) {
  std::string error;
  auto server = PythonServer::Start(testing::PythonFromEnvironment(), "identity", bind, extra, kServerStart, &error);
  EXPECT_NE(server, nullptr) << error;
  return server;
}

// Waits for an event of `kind`; other events are collected into *seen (for failure messages).
bool WaitFor(Client& c, ClientEventKind kind, milliseconds timeout, ClientEvent* out, std::string* seen) {
  const auto deadline = Clock::now() + timeout;
  ClientEvent e;
  while (Clock::now() < deadline) {
    if (!c.WaitForEvent(&e, milliseconds(10))) continue;
    if (e.kind == kind) {
      if (out) *out = e;
      return true;
    }
    if (seen) *seen += std::string(ClientEventKindName(e.kind)) + ": " + e.message + "\n";
  }
  return false;
}

std::vector<uint8_t> Pixels(uint32_t side, uint32_t seed) {
  std::vector<uint8_t> px(static_cast<size_t>(side) * side * 4);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 7 + seed);
  return px;
}

// Submits one 32x32 frame and waits for its result; true when it came back with the same pixels.
bool RoundTrip(Client& c, uint32_t seed) {
  const auto px = Pixels(32, seed);
  uint64_t id = 0;
  if (!c.WaitUntilReadyToSend(kWait) || !c.SubmitFrame(testing::View(px, 32, 32), &id).ok()) return false;
  const auto deadline = Clock::now() + kWait;
  FrameResult r;
  while (Clock::now() < deadline) {
    if (!c.WaitForResult(&r, milliseconds(100))) continue;
    if (r.header.frame_id == id) return r.pixels.size() == px.size() && std::equal(px.begin(), px.end(), r.pixels.data());
  }
  return false;
}

TEST(Reliability, RestartedServerIsHandshakenWithWithinTwoSeconds) {
  SDB_SKIP_WITHOUT_PYTHON();
  auto server = Start("tcp://127.0.0.1:*");
  ASSERT_NE(server, nullptr);
  const std::string endpoint = server->endpoint();
  ClientConfig cfg;  // default reconnect settings: what a game gets out of the box
  cfg.endpoint = endpoint;
  cfg.client_name = "cpp-restart";
  Client client(cfg);
  ASSERT_TRUE(client.Start().ok());
  std::string seen;
  ASSERT_TRUE(WaitFor(client, ClientEventKind::kConnected, kWait, nullptr, &seen)) << seen;
  for (uint32_t i = 0; i < 3; ++i) ASSERT_TRUE(RoundTrip(client, i));

  EXPECT_EQ(server->Stop(), 0);
  server.reset();
  ASSERT_TRUE(WaitFor(client, ClientEventKind::kDisconnected, kWait, nullptr, &seen)) << seen;

  server = Start(endpoint);  // same port; returns once the server printed its address
  ASSERT_NE(server, nullptr);
  const auto ready = Clock::now();
  ClientEvent connected;
  ASSERT_TRUE(WaitFor(client, ClientEventKind::kConnected, milliseconds(10000), &connected, &seen)) << seen;
  const auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - ready).count();
  std::printf("reliability: C++ client handshook again %lld ms after the restarted server was ready\n",
              static_cast<long long>(ms));
  EXPECT_LE(ms, 2000) << "reconnect + handshake after the server was ready";
  EXPECT_TRUE(RoundTrip(client, 9));
}

// Runs `sdbridge keys generate` and returns {public, secret} Z85 keys read from NAME.key_secret.
std::pair<std::string, std::string> Generate(const std::filesystem::path& dir, const std::string& name) {
  const std::string cmd = "\"" + testing::PythonFromEnvironment() + "\" -m sdbridge.cli keys generate --dir \"" +
                          dir.string() + "\" --name " + name + " > /dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(dir / (name + ".key_secret"));
  std::string line, pub, sec;
  while (std::getline(in, line)) {
    const auto q1 = line.find('"'), q2 = line.rfind('"');
    if (q1 == std::string::npos || q2 <= q1) continue;
    const std::string value = line.substr(q1 + 1, q2 - q1 - 1);
    if (line.find("public-key") != std::string::npos) pub = value;
    if (line.find("secret-key") != std::string::npos) sec = value;
  }
  EXPECT_EQ(pub.size(), 40u);
  EXPECT_EQ(sec.size(), 40u);
  return {pub, sec};
}

TEST(Reliability, CurveZmqServesAllowListedKeysAndRefusesOthers) {
  SDB_SKIP_WITHOUT_PYTHON();
  std::random_device rd;
  const auto dir = std::filesystem::temp_directory_path() / ("sdbridge-curve-" + std::to_string(rd()));
  const auto server_keys = Generate(dir, "server");
  const auto allowed = Generate(dir / "clients", "unreal");
  const auto stranger = Generate(dir / "others", "stranger");
  auto server = Start("tcp://127.0.0.1:*", {"--curve-secret-key", (dir / "server.key_secret").string(),
                                            "--authorized-keys", (dir / "clients").string()});
  ASSERT_NE(server, nullptr);

  ClientConfig cfg;
  cfg.endpoint = server->endpoint();
  cfg.client_name = "cpp-curve";
  cfg.curve_server_key = server_keys.first;
  cfg.curve_public_key = allowed.first;
  cfg.curve_secret_key = allowed.second;
  {
    Client client(cfg);
    ASSERT_TRUE(client.Start().ok());
    std::string seen;
    ASSERT_TRUE(WaitFor(client, ClientEventKind::kConnected, kWait, nullptr, &seen)) << seen;
    for (uint32_t i = 0; i < 3; ++i) EXPECT_TRUE(RoundTrip(client, i));
  }
  cfg.client_name = "cpp-stranger";
  cfg.curve_public_key = stranger.first;
  cfg.curve_secret_key = stranger.second;
  {
    Client client(cfg);
    ASSERT_TRUE(client.Start().ok());
    ClientEvent refused;
    std::string seen;
    ASSERT_TRUE(WaitFor(client, ClientEventKind::kError, milliseconds(10000), &refused, &seen)) << seen;
    EXPECT_NE(refused.message.find("authorized_keys"), std::string::npos) << refused.message;
    EXPECT_FALSE(WaitFor(client, ClientEventKind::kConnected, milliseconds(2500), nullptr, &seen))
        << "a key not on the server's list got a session";
  }
  cfg.curve_secret_key = "too-short";
  Client bad(cfg);
  EXPECT_EQ(bad.Start().code(), StatusCode::kInvalidArgument);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sdbridge
