// Status: how every call of the sdbridge core reports failure. No exception leaves the core's API.
#pragma once

#include <string>
#include <utility>

namespace sdbridge {

/// Why a call failed. Wire errors from the server keep their protocol ErrorCode in WireError.
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // a value passed by the caller is out of range (the message names it)
  kNotConnected,      // no session yet (connecting, reconnecting or stopped)
  kQueueFull,         // a bounded queue is full; call less often
  kMalformed,         // bytes from the peer are not a valid message
  kVersionMismatch,   // the peer speaks another protocol major
  kRefused,           // the server refused the session (see message)
  kTimeout,           // the peer did not answer in time
  kStopped,           // the client was stopped
  kInternal,          // a bug or resource failure inside the core (message says what)
};

/// Result of a call: kOk or a code plus a message naming the value, the limit and the fix.
class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

/// Short stable name of a code, e.g. "VersionMismatch" (for logs).
const char* StatusCodeName(StatusCode code);

}  // namespace sdbridge
