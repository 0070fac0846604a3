// The sdbridge Client's worker thread (ZeroMQ side): owns the ZeroMQ context, the wake-up pipe the API
// threads poke, and one DEALER socket (plus its monitor) per connection attempt. It runs sessions
// (client_session.h) and decides, after each, whether to retry (after a delay with backoff and jitter:
// client_retry.h), wait for a Reconnect() after a refusal or after ClientConfig.reconnect_window, or stop.
// Every exception stays inside this worker.
// Internal to the core (not installed with include/sdbridge).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "client_messages.h"
#include "client_session.h"
#include "client_shared.h"

namespace sdbridge {
namespace client_internal {

class ClientWorker {
 public:
  explicit ClientWorker(ClientShared& shared) : shared_(shared) {}

  /// Opens the context and the wake-up pipe and starts the thread (the caller validated the config
  /// and set the state to kConnecting). Throws on a ZeroMQ failure, leaving nothing open.
  void Start();
  /// Stops the thread and closes every socket. Idempotent; may throw only on a broken thread join.
  void Stop();
  /// Wakes the worker (a new control message, a frame, Reconnect() or Stop()). Never throws.
  void Wake() noexcept;
  bool running() const { return thread_.joinable(); }

 private:
  void Run();  // thread entry: nothing escapes
  void RunLoop();
  void WaitForWakeOrStop(milliseconds timeout);
  void DrainWake();
  /// One connection attempt plus the session it may become. Returns how it ended.
  SessionEnd RunSession();
  /// RunSession, with any exception reported as an event (kRetry).
  SessionEnd RunSessionCatching();
  /// Polls the connected dealer until the session ends or the client stops.
  SessionEnd Converse(zmq::socket_t& dealer, zmq::socket_t& monitor);
  void CloseSockets();

  ClientShared& shared_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::unique_ptr<zmq::context_t> ctx_;
  std::mutex wake_mu_;  // guards wake_tx_ (used by API threads)
  std::unique_ptr<zmq::socket_t> wake_tx_;
  std::unique_ptr<zmq::socket_t> wake_rx_;
  uint64_t attempt_ = 0;
};

}  // namespace client_internal
}  // namespace sdbridge
