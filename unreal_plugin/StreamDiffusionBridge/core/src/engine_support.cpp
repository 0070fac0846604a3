// Engine-free helpers of the engine layers (see sdbridge/engine_support.h).
#include "sdbridge/engine_support.h"

namespace sdbridge {

Status MakeReadbackFrame(const uint8_t* data, uint32_t width, uint32_t height, uint32_t row_pitch_bytes,
                         PixelFormat format, uint64_t capture_time_us, FrameView* out) {
  const uint32_t bpp = BytesPerPixel(format);
  if (bpp == 0) {
    return Status(StatusCode::kInvalidArgument, "readback format " + std::to_string(static_cast<int>(format)) +
                                                    " is not RGBA8 or BGRA8: capture into an 8-bit RGBA target");
  }
  if (width == 0 || height == 0) {
    return Status(StatusCode::kInvalidArgument, "readback size " + std::to_string(width) + "x" +
                                                    std::to_string(height) + " is empty: both sides must be >= 1");
  }
  if (data == nullptr) {
    return Status(StatusCode::kInvalidArgument, "readback data is null: the readback was not locked");
  }
  const uint64_t row_bytes = static_cast<uint64_t>(width) * bpp;
  if (row_pitch_bytes < row_bytes) {
    return Status(StatusCode::kInvalidArgument, "readback row pitch " + std::to_string(row_pitch_bytes) +
                                                    " bytes is shorter than a row of " + std::to_string(row_bytes) +
                                                    " bytes (width " + std::to_string(width) + ")");
  }
  FrameView frame;
  frame.pixels = data;
  frame.layout.width = width;
  frame.layout.height = height;
  frame.layout.stride = row_pitch_bytes;
  frame.layout.format = format;
  frame.layout.row_order = RowOrder::kTopDown;   // GPU textures are read back top row first
  frame.layout.color_space = ColorSpace::kSRGB;  // a tone-mapped LDR view in an 8-bit sRGB target
  frame.layout.alpha_mode = AlphaMode::kIgnore;
  frame.size = static_cast<size_t>(row_pitch_bytes) * height;
  frame.capture_time_us = capture_time_us;
  *out = frame;
  return Status::Ok();
}

ResultInfo DescribeResult(const FrameResult& result) {
  const ResultHeader& h = result.header;
  ResultInfo info;
  info.frame_id = h.frame_id;
  info.source_frame_id = h.source_frame_id;
  info.is_warmup = h.is_warmup;
  info.skipped = h.skipped;
  info.queue_wait_ms = static_cast<float>(h.queue_wait_us) / 1000.0f;
  info.inference_ms = static_cast<float>(h.inference_us) / 1000.0f;
  info.encode_ms = static_cast<float>(h.encode_us) / 1000.0f;
  if (h.capture_time_us != 0 && result.received_time_us >= h.capture_time_us) {
    info.round_trip_ms = static_cast<float>(result.received_time_us - h.capture_time_us) / 1000.0f;
  }
  return info;
}

ErrorInfo DescribeEvent(const ClientEvent& event) {
  ErrorInfo info;
  info.message = event.message;
  info.version_mismatch = event.status == StatusCode::kVersionMismatch;
  info.warning = event.kind == ClientEventKind::kWarning;
  if (event.error.has_value()) {
    info.server_error_code = static_cast<int32_t>(event.error->code);
    info.field = event.error->field.value_or(std::string());
  }
  return info;
}

ReadbackSlots::ReadbackSlots(int requested)
    : size_(requested < kMinSlots ? kMinSlots : requested > kMaxSlots ? kMaxSlots : requested) {}

int ReadbackSlots::Reserve() {
  if (count_ == size_) {
    skipped_.fetch_add(1, std::memory_order_relaxed);  // the GPU is behind: skip, never wait
    return -1;
  }
  const int slot = (head_ + count_) % size_;
  ++count_;
  return slot;
}

int ReadbackSlots::InFlight(int n) const {
  if (n < 0 || n >= count_) return -1;
  return (head_ + n) % size_;
}

void ReadbackSlots::Release(int n) {
  if (n <= 0) return;
  if (n > count_) n = count_;
  head_ = (head_ + n) % size_;
  count_ -= n;
}

}  // namespace sdbridge
