// How loudly an engine logs each client event: the first connection failure is logged
// once, loudly, with the endpoint, the cause and the fix (the client's message carries all three); later
// retries of the same outage go to a quiet level until a session is established again. A repeated identical
// error (e.g. the same bad parameter every frame) is quiet after its first report. Engine-free: the Unreal
// layer maps the returned level to UE_LOG verbosities, the tests here check the policy.
#pragma once

#include <string>

#include "sdbridge/client.h"

namespace sdbridge {

enum class LogLevel {
  kVerbose,  // retries and repeats: visible only when asked for
  kInfo,     // connected, notices, a move to another replica (a server without this connection's session), a
             // session left on Client::Reconnect()
  kWarning,  // protocol minor mismatch, a server Error during a session, and other warnings
  kError,    // the first report of a failure: the user has to act
};

/// "Verbose", "Info", "Warning" or "Error".
const char* LogLevelName(LogLevel level);

/// Not thread-safe: feed every event of one client through one policy, on one thread (the engine's game thread).
class ConnectionLogPolicy {
 public:
  /// The level for this event; updates the policy's memory of what was already reported.
  LogLevel LevelFor(const ClientEvent& event);

  /// True when the last LevelFor returned the quiet level for a connection failure (a retry of a reported outage).
  bool last_was_retry() const { return last_was_retry_; }

 private:
  bool outage_reported_ = false;  // a connection failure was logged loudly since the last Welcome
  std::string last_error_;        // the last error message logged loudly
  bool last_was_retry_ = false;
};

/// True for events that mean "no session with the server": handshake timeouts, lost sessions, refused CurveZMQ
/// handshakes and transport errors while connecting.
bool IsConnectionFailure(const ClientEvent& event);

/// True for a server Error received during a session: one the session survives (e.g. BadParam, a rejected parameter)
/// or one that ends it (set_session_gone, session_closed); false for a refused Hello. Logged as a warning.
bool IsInSessionServerError(const ClientEvent& event);

}  // namespace sdbridge
