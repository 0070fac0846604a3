// Status: how every call of the sdbridge core reports failure. No exception leaves the core's API.
#pragma once

#include <string>
#include <utility>

#include "sdbridge/generated/bridge_constants.h"  // WireError (the schema's ErrorCode)

namespace sdbridge {

/// Why a call failed. A failure that maps to a protocol ErrorCode (a server Error, or bytes the codec refused)
/// also carries that code as Status::wire_error(): decide on it, never on the message text.
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
  Status(StatusCode code, std::string message, WireError wire_error = WireError::kUnknown)
      : code_(code), message_(std::move(message)), wire_error_(wire_error) {}
  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  /// The protocol ErrorCode behind this failure (e.g. kWrongIdentifier from Decode); kUnknown if none.
  WireError wire_error() const { return wire_error_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  WireError wire_error_ = WireError::kUnknown;
};

/// Short stable name of a code, e.g. "VersionMismatch" (for logs).
const char* StatusCodeName(StatusCode code);

}  // namespace sdbridge
