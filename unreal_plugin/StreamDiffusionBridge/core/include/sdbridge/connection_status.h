// Connection status a person can see: a thread-safe snapshot of the connection state,
// results per second, round-trip latency and the last error, kept by the client's worker thread and read by
// the engine's game thread without blocking on the network (one short mutex, no I/O).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

namespace sdbridge {

enum class ConnectionState {
  kStopped,     // not started, or stopped
  kConnecting,  // socket open, waiting for Welcome (also between reconnect attempts)
  kConnected,   // Welcome received; frames flow
  kRefused,     // the server refused us for good (protocol major mismatch), or ClientConfig.reconnect_window passed
                // without a session; call Reconnect() to retry
};

/// "Stopped", "Connecting", "Connected" or "Refused".
const char* ConnectionStateName(ConnectionState state);

/// What the engine's status panel shows. Times on the client's NowMicros() clock.
struct StatusSnapshot {
  ConnectionState state = ConnectionState::kStopped;
  std::string endpoint;
  double results_per_second = 0.0;  // results received during the last window, divided by the window
  double round_trip_ms = 0.0;       // mean capture -> result received over the last window (0: none)
  double last_round_trip_ms = 0.0;  // of the newest result (0: none yet)
  uint64_t results_received = 0;    // since the tracker was made
  uint64_t failed_attempts = 0;     // handshake failures and lost sessions since the last Welcome
  std::string last_error;           // newest error or disconnect message ("" while there was none)
  uint64_t last_error_time_us = 0;  // when it happened (0: never)
};

/// Keeps the figures of a StatusSnapshot. Every method is thread-safe and constant-time apart from
/// dropping expired samples; none blocks on anything but its own short mutex.
class StatusTracker {
 public:
  /// window_us: the span results/s and the mean round trip are measured over (0 is taken as 1 s).
  explicit StatusTracker(std::string endpoint, uint64_t window_us = 1000000);

  void OnState(ConnectionState state);
  /// A result arrived at received_us for a frame captured at capture_us (0: unknown, no round trip).
  void OnResult(uint64_t capture_us, uint64_t received_us);
  /// An error or a lost session; counts as a failed attempt when `failed_attempt`.
  void OnError(const std::string& message, uint64_t now_us, bool failed_attempt);

  StatusSnapshot Snapshot(uint64_t now_us) const;

 private:
  struct Sample {
    uint64_t received_us;
    uint64_t round_trip_us;  // 0: unknown
  };
  void DropOlderThan(uint64_t now_us) const;

  static constexpr size_t kMaxSamples = 4096;  // bounds memory at any result rate
  const uint64_t window_us_;
  mutable std::mutex mu_;
  mutable std::deque<Sample> samples_;  // newest last, within the window
  StatusSnapshot status_;
};

}  // namespace sdbridge
