// What an engine keeps about each frame it captures until a result depicting that frame is drawn:
// the camera (the core's bounded CameraHistory) plus an engine payload (the Unreal layer keeps the
// capture mapping and an RDG-external copy of the frame's depth). A capture queued in the GPU readback ring has
// no frame id yet: it waits as "pending", in ring order, until the ring frees its slot and the client assigns the
// id (Client::SubmitFrame). Header-only because the payload is an engine type; one thread only (the engine's
// render thread). Tested by depicted_frames_test.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <optional>
#include <unordered_map>
#include <utility>

#include "sdbridge/reprojection.h"

namespace sdbridge {

/// True when another frame may be captured: the client holds more sending credits than there are captures in
/// flight (queued in the readback ring, not yet submitted). Capturing only then makes every capture a frame the
/// client sends (none is replaced in its pending slot), so the kept cameras are exactly the frames results depict.
inline bool CaptureAllowed(uint32_t credits, size_t captures_in_flight) {
  return static_cast<size_t>(credits) > captures_in_flight;
}

template <typename Payload>
class DepictedFrames {
 public:
  /// More than any readback ring has slots: pending entries beyond it are out of step (dropped oldest first).
  static constexpr size_t kMaxPending = 8;

  /// capacity: frame ids kept (>= 1; 0 is taken as 1). A result older than that many sent frames is not found.
  explicit DepictedFrames(size_t capacity) : cameras_(capacity) {}

  /// A capture was queued in the readback ring (call in the ring's order).
  void AddPending(uint64_t capture_time_us, const CameraFrame& camera, Payload payload) {
    if (pending_.size() >= kMaxPending) pending_.pop_front();
    pending_.push_back(Pending{capture_time_us, camera, std::move(payload)});
  }

  size_t pending() const { return pending_.size(); }

  /// The ring freed its `freed` oldest slots; the one captured at submitted_capture_time_us was submitted as
  /// submitted_frame_id (0: none was). Retires those pending captures and keeps the submitted one by its id.
  void Retire(size_t freed, uint64_t submitted_capture_time_us, uint64_t submitted_frame_id) {
    for (size_t i = 0; i < freed && !pending_.empty(); ++i) {
      Pending& oldest = pending_.front();
      if (submitted_frame_id != 0 && oldest.capture_time_us == submitted_capture_time_us) {
        cameras_.Record(submitted_frame_id, oldest.camera);
        payloads_[submitted_frame_id] = std::move(oldest.payload);
      }
      pending_.pop_front();
    }
    // Keep exactly the ids the bounded camera history still holds (it dropped the oldest).
    for (auto it = payloads_.begin(); it != payloads_.end();) {
      it = cameras_.Find(it->first).has_value() ? std::next(it) : payloads_.erase(it);
    }
  }

  /// The payload of frame_id and (if camera is not null) its camera; null when it is not kept.
  const Payload* Find(uint64_t frame_id, CameraFrame* camera) const {
    const std::optional<CameraFrame> found = cameras_.Find(frame_id);
    const auto it = payloads_.find(frame_id);
    if (!found.has_value() || it == payloads_.end()) return nullptr;
    if (camera != nullptr) *camera = *found;
    return &it->second;
  }

  size_t kept() const { return payloads_.size(); }

  void Clear() {
    pending_.clear();
    cameras_.Clear();
    payloads_.clear();
  }

 private:
  struct Pending {
    uint64_t capture_time_us;
    CameraFrame camera;
    Payload payload;
  };

  std::deque<Pending> pending_;  // ring order, oldest first
  CameraHistory cameras_;
  std::unordered_map<uint64_t, Payload> payloads_;  // the same ids as cameras_
};

}  // namespace sdbridge
