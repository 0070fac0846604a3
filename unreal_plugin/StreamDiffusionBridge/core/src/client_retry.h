// Reconnect delays of the sdbridge Client's worker: exponential backoff with full jitter, the policy of the Python
// client (python_server/sdbridge/transport/client_retry.py, class Backoff). The n-th delay after a failed try is
// drawn uniformly in [0, min(cap, base * 2^n)], so the clients of a dead, full or draining replica do not all come
// back at the same instant and a balancer spreads them over the other replicas; a session that opens starts the
// delays again from `base`. ClientConfig.reconnect_delay is `base`, reconnect_delay_max is `cap` (50 ms and 1 s,
// Backoff's base_s and cap_s), and ClientConfig.reconnect_window bounds how long the tries go on.
// The draws come from splitmix64, not <random>: <random> does not compile where <windows.h>'s min/max macros are
// defined (cmake/windows_minmax_probe.h), and jitter only has to decorrelate clients, not be unpredictable.
// Internal to the core (not installed with include/sdbridge); no ZeroMQ here.
#pragma once

#include <chrono>
#include <cstdint>

namespace sdbridge {
namespace client_internal {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap, uint64_t seed)
      : base_(base), cap_(cap), state_(seed) {}

  /// The ceiling the next NextDelay() draws below: min(cap, base * 2^tries).
  std::chrono::milliseconds Ceiling() const {
    const uint32_t doublings = tries_ < 30 ? tries_ : 30;  // 2^30 * base is past any cap
    const int64_t base = base_.count() > 0 ? static_cast<int64_t>(base_.count()) : 0;
    const int64_t scaled = base * (int64_t{1} << doublings);
    const int64_t cap = static_cast<int64_t>(cap_.count());
    return std::chrono::milliseconds(scaled < cap ? scaled : cap);
  }

  /// The delay before the next try (and count this one): uniform in [0, Ceiling()].
  std::chrono::milliseconds NextDelay() {
    const int64_t ceiling = Ceiling().count();
    ++tries_;
    if (ceiling <= 0) return std::chrono::milliseconds(0);
    return std::chrono::milliseconds(static_cast<int64_t>(Next() % static_cast<uint64_t>(ceiling + 1)));
  }

  /// Start again from `base` (after a session opened).
  void Reset() { tries_ = 0; }
  /// Delays drawn since the last Reset().
  uint32_t tries() const { return tries_; }

 private:
  std::chrono::milliseconds base_;
  std::chrono::milliseconds cap_;
  uint64_t Next() {  // splitmix64 (Steele, Lea, Flood 2014)
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  uint64_t state_;
  uint32_t tries_ = 0;
};

}  // namespace client_internal
}  // namespace sdbridge
