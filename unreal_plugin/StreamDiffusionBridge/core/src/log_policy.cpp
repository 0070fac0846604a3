// ConnectionLogPolicy (see sdbridge/log_policy.h).
#include "sdbridge/log_policy.h"

namespace sdbridge {

const char* LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kVerbose: return "Verbose";
    case LogLevel::kInfo: return "Info";
    case LogLevel::kWarning: return "Warning";
    case LogLevel::kError: return "Error";
  }
  return "Unknown";
}

bool IsConnectionFailure(const ClientEvent& event) {
  if (event.kind == ClientEventKind::kDisconnected) return event.status != StatusCode::kOk;  // kOk: Reconnect()
  if (event.kind != ClientEventKind::kError || event.error.has_value()) return false;  // server Errors are not
  return event.status == StatusCode::kTimeout || event.status == StatusCode::kNotConnected ||
         event.status == StatusCode::kRefused;
}

bool IsInSessionServerError(const ClientEvent& event) {
  // client_messages.cpp's ClassifyServerError: kInvalidArgument while the session stays up, kNotConnected when the
  // server lost the session; a refused Hello is kRefused or kVersionMismatch.
  return event.kind == ClientEventKind::kError && event.error.has_value() &&
         (event.status == StatusCode::kInvalidArgument || event.status == StatusCode::kNotConnected);
}

LogLevel ConnectionLogPolicy::LevelFor(const ClientEvent& event) {
  last_was_retry_ = false;
  switch (event.kind) {
    case ClientEventKind::kConnected:
      outage_reported_ = false;
      last_error_.clear();
      return LogLevel::kInfo;
    case ClientEventKind::kStats:
      return LogLevel::kVerbose;
    case ClientEventKind::kNotice:
      return LogLevel::kInfo;
    case ClientEventKind::kWarning:
      return LogLevel::kWarning;
    case ClientEventKind::kDisconnected:
    case ClientEventKind::kError:
      break;
  }
  if (event.kind == ClientEventKind::kDisconnected && event.error && IsUnknownConnection(event.error->code)) {
    // set_unknown_connection: libzmq re-made the connection (another replica behind a balancer, a restarted
    // server) and the client moves by itself: information, not a problem (as the Python and C# clients log it).
    return LogLevel::kInfo;
  }
  if (event.kind == ClientEventKind::kDisconnected && event.status == StatusCode::kOk) {
    return LogLevel::kInfo;  // the game left the session (Client::Reconnect()): nothing went wrong
  }
  if (event.kind == ClientEventKind::kDisconnected) {
    // A session that was up and is lost: a warning, once per outage (it names why).
    last_was_retry_ = outage_reported_;
    return outage_reported_ ? LogLevel::kVerbose : LogLevel::kWarning;
  }
  if (IsConnectionFailure(event)) {
    // Failing to connect needs the user: the first failure loudly (endpoint, cause, fix), retries quietly.
    if (outage_reported_) {
      last_was_retry_ = true;
      return LogLevel::kVerbose;
    }
    outage_reported_ = true;
    return LogLevel::kError;
  }
  if (event.message == last_error_) return LogLevel::kVerbose;
  last_error_ = event.message;
  // A server Error during a session (a rejected parameter, or one that ends the session, whose kDisconnected follows)
  // is a warning, as the Python client's _log_server_error logs it; a refused Hello or any other failure needs the
  // user: an error.
  return IsInSessionServerError(event) ? LogLevel::kWarning : LogLevel::kError;
}

}  // namespace sdbridge
