// The one ClientConfig builder of the client tests (fake server or the real one): the endpoint, the test's client
// name, engine "gtest", and the timeouts of TestTimeouts, whose defaults suit a scripted fake server on a loaded
// 2-core machine (no Ping during a test unless it asks; the reconnect delays are ClientConfig's own, the Python
// client's Backoff). A test that needs other figures says so with the chained setters:
//   TestConfig(server.endpoint(), "status_test", TestTimeouts().Handshake(150ms).Reconnect(20ms, 50ms))
#pragma once

#include <chrono>
#include <string>

#include "sdbridge/client.h"

namespace sdbridge::testing {

/// Timeouts of a test client (see TestConfig); each setter returns the object, so they chain.
struct TestTimeouts {
  std::chrono::milliseconds handshake{1000};   // ClientConfig::handshake_timeout
  std::chrono::milliseconds heartbeat{10000};  // ClientConfig::heartbeat_interval
  std::chrono::milliseconds peer{3000};        // ClientConfig::peer_timeout
  std::chrono::milliseconds reconnect_delay{ClientConfig{}.reconnect_delay};
  std::chrono::milliseconds reconnect_delay_max{ClientConfig{}.reconnect_delay_max};

  TestTimeouts& Handshake(std::chrono::milliseconds v) {
    handshake = v;
    return *this;
  }
  TestTimeouts& Heartbeat(std::chrono::milliseconds v) {
    heartbeat = v;
    return *this;
  }
  TestTimeouts& Peer(std::chrono::milliseconds v) {
    peer = v;
    return *this;
  }
  TestTimeouts& Reconnect(std::chrono::milliseconds delay, std::chrono::milliseconds delay_max) {
    reconnect_delay = delay;
    reconnect_delay_max = delay_max;
    return *this;
  }
};

/// Quick reconnect tries, for the tests that lose a session on purpose.
inline const TestTimeouts kQuickReconnect =
    TestTimeouts().Reconnect(std::chrono::milliseconds(20), std::chrono::milliseconds(100));

/// A ClientConfig for `endpoint` named `client_name` (Hello.client_name) with `timeouts`.
inline ClientConfig TestConfig(const std::string& endpoint, const std::string& client_name,
                               const TestTimeouts& timeouts = TestTimeouts()) {
  ClientConfig c;
  c.endpoint = endpoint;
  c.client_name = client_name;
  c.engine_name = "gtest";
  c.handshake_timeout = timeouts.handshake;
  c.heartbeat_interval = timeouts.heartbeat;
  c.peer_timeout = timeouts.peer;
  c.reconnect_delay = timeouts.reconnect_delay;
  c.reconnect_delay_max = timeouts.reconnect_delay_max;
  return c;
}

}  // namespace sdbridge::testing
