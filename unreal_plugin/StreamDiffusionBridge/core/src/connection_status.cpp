// StatusTracker (see sdbridge/connection_status.h).
#include "sdbridge/connection_status.h"

#include <utility>

namespace sdbridge {

StatusTracker::StatusTracker(std::string endpoint, uint64_t window_us)
    : window_us_(window_us == 0 ? 1000000 : window_us) {
  status_.endpoint = std::move(endpoint);
}

void StatusTracker::OnState(ConnectionState state) {
  std::lock_guard<std::mutex> lock(mu_);
  status_.state = state;
  if (state == ConnectionState::kConnected) status_.failed_attempts = 0;
}

void StatusTracker::OnResult(uint64_t capture_us, uint64_t received_us) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t round_trip = capture_us != 0 && received_us >= capture_us ? received_us - capture_us : 0;
  if (samples_.size() >= kMaxSamples) samples_.pop_front();
  samples_.push_back(Sample{received_us, round_trip});
  ++status_.results_received;
  if (round_trip != 0) status_.last_round_trip_ms = static_cast<double>(round_trip) / 1000.0;
}

void StatusTracker::OnError(const std::string& message, uint64_t now_us, bool failed_attempt) {
  std::lock_guard<std::mutex> lock(mu_);
  status_.last_error = message;
  status_.last_error_time_us = now_us;
  if (failed_attempt) ++status_.failed_attempts;
}

void StatusTracker::DropOlderThan(uint64_t now_us) const {
  const uint64_t start = now_us > window_us_ ? now_us - window_us_ : 0;
  while (!samples_.empty() && samples_.front().received_us < start) samples_.pop_front();
}

StatusSnapshot StatusTracker::Snapshot(uint64_t now_us) const {
  std::lock_guard<std::mutex> lock(mu_);
  DropOlderThan(now_us);
  StatusSnapshot out = status_;
  size_t timed = 0;
  uint64_t total_us = 0;
  size_t in_window = 0;
  for (const Sample& s : samples_) {
    if (s.received_us > now_us) continue;  // a sample from a clock read after now_us was taken
    ++in_window;
    if (s.round_trip_us != 0) {
      ++timed;
      total_us += s.round_trip_us;
    }
  }
  out.results_per_second = static_cast<double>(in_window) * 1e6 / static_cast<double>(window_us_);
  out.round_trip_ms = timed == 0 ? 0.0 : static_cast<double>(total_us) / static_cast<double>(timed) / 1000.0;
  return out;
}

}  // namespace sdbridge
