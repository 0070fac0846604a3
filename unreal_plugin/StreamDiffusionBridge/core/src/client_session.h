// One connected session of the sdbridge Client's worker (ZeroMQ side): handles what the server sends
// (Welcome, Result, Credit, Error, Notice, Stats, Bye), sends queued controls, frames while credits
// last and heartbeats, and detects a silent or disconnected server. It lives on the worker's stack for
// one connection. Internal to the core; every zmq::error_t is caught by the worker (client_worker.cpp).
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <zmq.h>

#include <zmq.hpp>

#include "client_messages.h"
#include "client_shared.h"

namespace sdbridge {
namespace client_internal {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// zmq::poll that treats a signal interruption (EINTR) as "nothing ready" instead of an error.
inline int PollNoIntr(zmq::pollitem_t* items, size_t count, milliseconds timeout) {
  try {
    return zmq::poll(items, count, timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return 0;
    throw;
  }
}

/// State and handlers of one connection (worker thread only).
class SessionConnection {
 public:
  SessionConnection(ClientShared& shared, zmq::socket_t& dealer) : shared_(shared), dealer_(dealer) {}

  bool connected() const { return connected_; }
  /// How long the worker may wait before a heartbeat is due.
  milliseconds NextTimerIn() const;
  /// Reads every message that is ready; not kNone when the session must end.
  SessionEnd ReceiveAll();
  /// The socket monitor reported events; true if our peer is gone.
  bool PeerDisconnected(zmq::socket_t& monitor);
  /// Sends what is due: controls, frames while credits last, heartbeat; detects silence.
  SessionEnd Pump();
  /// Best-effort Bye when the client stops (or moves away from a draining server).
  void SayBye(const char* reason = "client stopped");

 private:
  SessionEnd Handle(std::vector<zmq::message_t>& parts);
  SessionEnd HandleInSession(const Message& msg, std::vector<zmq::message_t>& parts);
  SessionEnd OnWelcome(const Welcome& w);
  SessionEnd OnError(const ErrorMessage& err);
  SessionEnd OnResult(const ResultHeader& header, std::vector<zmq::message_t>& parts);
  void SendControls();
  bool SendControl(const ControlMessage& control);
  void SendTxt2imgRequest();
  bool SendOneFrame();
  void SendHeartbeatIfDue(Clock::time_point now);
  bool SendBytes(const std::vector<uint8_t>& bytes);
  void MarkSent() { last_send_ = Clock::now(); }
  void ExpectAnswer() {
    if (!unanswered_since_) unanswered_since_ = Clock::now();
  }

  ClientShared& shared_;
  zmq::socket_t& dealer_;
  bool connected_ = false;
  uint64_t session_id_ = 0;
  uint32_t capabilities_ = 0;  // the Welcome's
  uint32_t heartbeat_ms_ = 0;
  bool heartbeat_with_ping_ = false;
  uint64_t ping_nonce_ = 0;
  Clock::time_point last_send_ = Clock::now();
  // Set when a frame or heartbeat is sent while nothing is outstanding; cleared by any message
  // from the server. Older than peer_timeout -> the server is gone (ZMTP heartbeats usually
  // notice first, through the monitor's DISCONNECTED event).
  std::optional<Clock::time_point> unanswered_since_;
  bool auth_refusal_reported_ = false;
};

}  // namespace client_internal
}  // namespace sdbridge
