// Engine-free logic the Unreal layer used to carry itself: what a GPU readback becomes as a
// frame, what a result and an error event say in the engine's terms, and the slot bookkeeping of the readback
// ring. The Unreal module keeps only the engine calls (FString <-> UTF-8, EPixelFormat, RHI readbacks) and the
// copies into its Blueprint structs; ctest covers everything here.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "sdbridge/client.h"

namespace sdbridge {

/// A top-down GPU readback of width x height pixels whose rows are row_pitch_bytes apart (GPU rows are padded)
/// as a frame to submit: sRGB colour (a tone-mapped LDR view), alpha ignored. kInvalidArgument naming the value
/// when the format is unknown, a size is 0, data is null or the pitch is shorter than a row.
Status MakeReadbackFrame(const uint8_t* data, uint32_t width, uint32_t height, uint32_t row_pitch_bytes,
                         PixelFormat format, uint64_t capture_time_us, FrameView* out);

/// What came back with a stylized frame, in milliseconds (the engine's result struct mirrors it).
struct ResultInfo {
  uint64_t frame_id = 0;         // the submitted frame this result answers
  uint64_t source_frame_id = 0;  // the submitted frame the image depicts (latency_frames earlier)
  bool is_warmup = false;
  bool skipped = false;
  float queue_wait_ms = 0.0f;
  float inference_ms = 0.0f;
  float encode_ms = 0.0f;
  float round_trip_ms = 0.0f;    // capture -> received on this machine's clock; 0 when the capture time is unknown
};

ResultInfo DescribeResult(const FrameResult& result);

/// An error or warning event in the engine's terms.
struct ErrorInfo {
  std::string message;
  int32_t server_error_code = 0;  // schemas/bridge.fbs ErrorCode; 0 for local errors
  std::string field;              // the message field the server complained about, e.g. "Frame.stride"
  bool version_mismatch = false;  // reconnecting cannot help: install matching versions
  bool warning = false;
};

ErrorInfo DescribeEvent(const ClientEvent& event);

/// Slot bookkeeping of a ring of asynchronous GPU readbacks (the Unreal ring holds one FRHIGPUTextureReadback
/// per slot): copies are queued into the next free slot or skipped when all are in flight (never waited for);
/// completed slots are freed oldest first and only the newest completed one is handed on. One thread
/// (the render thread) calls everything but skipped(), which any thread may read.
class ReadbackSlots {
 public:
  static constexpr int kMinSlots = 2;
  static constexpr int kMaxSlots = 4;

  /// requested is clamped to [kMinSlots, kMaxSlots].
  explicit ReadbackSlots(int requested);

  int size() const { return size_; }
  int in_flight() const { return count_; }

  /// The slot for a new copy, or -1 (counted in skipped()) when every slot is in flight.
  int Reserve();

  /// The n-th oldest slot in flight (0 = oldest); -1 when n is out of range.
  int InFlight(int n) const;

  /// How many slots in flight, oldest first, are complete: stops at the first one is_ready(slot) says is not.
  template <typename IsReady>
  int CountReady(IsReady&& is_ready) const {
    int ready = 0;
    while (ready < count_ && is_ready(InFlight(ready))) ++ready;
    return ready;
  }

  /// Free the n oldest slots in flight (n is clamped to in_flight()).
  void Release(int n);

  uint64_t skipped() const { return skipped_.load(std::memory_order_relaxed); }

 private:
  int size_;
  int head_ = 0;   // oldest slot in flight
  int count_ = 0;  // slots in flight
  std::atomic<uint64_t> skipped_{0};
};

}  // namespace sdbridge
