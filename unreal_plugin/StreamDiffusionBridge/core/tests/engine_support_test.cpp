// engine_support.h: the logic the Unreal module used to hold in SDBridgeConversions.h and
// SDBridgeReadbackRing.cpp, now engine-free: readback -> frame layout, result timings, error events, and the
// readback ring's slot policy (skip when full, free oldest first, hand on the newest completed slot).
#include <gtest/gtest.h>

#include <vector>

#include "sdbridge/engine_support.h"

namespace sdbridge {
namespace {

TEST(ReadbackFrame, PaddedRowsKeepTheirPitch) {
  std::vector<uint8_t> data(256 * 3, 0);
  FrameView f;
  ASSERT_TRUE(MakeReadbackFrame(data.data(), 60, 3, 256, PixelFormat::kBGRA8, 1234, &f).ok());
  EXPECT_EQ(f.layout.width, 60u);
  EXPECT_EQ(f.layout.stride, 256u);
  EXPECT_EQ(f.size, 768u);
  EXPECT_EQ(f.layout.format, PixelFormat::kBGRA8);
  EXPECT_EQ(f.layout.row_order, RowOrder::kTopDown);
  EXPECT_EQ(f.layout.color_space, ColorSpace::kSRGB);
  EXPECT_EQ(f.layout.alpha_mode, AlphaMode::kIgnore);
  EXPECT_EQ(f.capture_time_us, 1234u);
}

TEST(ReadbackFrame, BadInputsNameTheValue) {
  std::vector<uint8_t> data(1024, 0);
  FrameView f;
  Status s = MakeReadbackFrame(data.data(), 64, 2, 200, PixelFormat::kRGBA8, 0, &f);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("row pitch 200"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("256"), std::string::npos) << s.message();
  s = MakeReadbackFrame(data.data(), 4, 4, 16, PixelFormat::kUnknown, 0, &f);
  EXPECT_NE(s.message().find("not RGBA8 or BGRA8"), std::string::npos) << s.message();
  s = MakeReadbackFrame(data.data(), 0, 4, 16, PixelFormat::kRGBA8, 0, &f);
  EXPECT_NE(s.message().find("0x4"), std::string::npos) << s.message();
  s = MakeReadbackFrame(nullptr, 4, 4, 16, PixelFormat::kRGBA8, 0, &f);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
}

TEST(ResultDescription, TimingsInMillisecondsAndRoundTripOnlyWithACaptureTime) {
  FrameResult r;
  r.header.frame_id = 12;
  r.header.source_frame_id = 10;
  r.header.is_warmup = true;
  r.header.queue_wait_us = 1500;
  r.header.inference_us = 20000;
  r.header.encode_us = 250;
  r.header.capture_time_us = 1000000;
  r.received_time_us = 1045000;
  ResultInfo info = DescribeResult(r);
  EXPECT_EQ(info.frame_id, 12u);
  EXPECT_EQ(info.source_frame_id, 10u);
  EXPECT_TRUE(info.is_warmup);
  EXPECT_FALSE(info.skipped);
  EXPECT_FLOAT_EQ(info.queue_wait_ms, 1.5f);
  EXPECT_FLOAT_EQ(info.inference_ms, 20.0f);
  EXPECT_FLOAT_EQ(info.encode_ms, 0.25f);
  EXPECT_FLOAT_EQ(info.round_trip_ms, 45.0f);
  r.header.capture_time_us = 0;
  EXPECT_FLOAT_EQ(DescribeResult(r).round_trip_ms, 0.0f);
  r.header.capture_time_us = 2000000;  // a clock from elsewhere: no negative round trip
  EXPECT_FLOAT_EQ(DescribeResult(r).round_trip_ms, 0.0f);
}

TEST(EventDescription, ServerErrorFieldAndVersionMismatch) {
  ClientEvent e;
  e.kind = ClientEventKind::kError;
  e.status = StatusCode::kRefused;
  e.message = "stride too small";
  e.error = ErrorMessage{};
  e.error->code = WireError::kBadPixelSize;
  e.error->field = "Frame.stride";
  ErrorInfo info = DescribeEvent(e);
  EXPECT_EQ(info.message, "stride too small");
  EXPECT_EQ(info.server_error_code, 7);
  EXPECT_EQ(info.field, "Frame.stride");
  EXPECT_FALSE(info.version_mismatch);
  EXPECT_FALSE(info.warning);
  ClientEvent v;
  v.kind = ClientEventKind::kWarning;
  v.status = StatusCode::kVersionMismatch;
  info = DescribeEvent(v);
  EXPECT_TRUE(info.version_mismatch);
  EXPECT_TRUE(info.warning);
  EXPECT_EQ(info.server_error_code, 0);
  EXPECT_EQ(info.field, "");
}

TEST(ReadbackSlotsTest, SizeIsClampedToTwoToFour) {
  EXPECT_EQ(ReadbackSlots(0).size(), 2);
  EXPECT_EQ(ReadbackSlots(3).size(), 3);
  EXPECT_EQ(ReadbackSlots(9).size(), 4);
}

TEST(ReadbackSlotsTest, FullRingSkipsAndCountsNeverWaits) {
  ReadbackSlots ring(3);
  EXPECT_EQ(ring.Reserve(), 0);
  EXPECT_EQ(ring.Reserve(), 1);
  EXPECT_EQ(ring.Reserve(), 2);
  EXPECT_EQ(ring.Reserve(), -1);
  EXPECT_EQ(ring.Reserve(), -1);
  EXPECT_EQ(ring.skipped(), 2u);
  EXPECT_EQ(ring.in_flight(), 3);
}

TEST(ReadbackSlotsTest, ReadySlotsAreFreedOldestFirstAndTheNewestReadyIsHandedOn) {
  ReadbackSlots ring(3);
  ring.Reserve();  // 0
  ring.Reserve();  // 1
  ring.Reserve();  // 2
  bool done[3] = {true, true, false};
  const int ready = ring.CountReady([&](int slot) { return done[slot]; });
  EXPECT_EQ(ready, 2);
  EXPECT_EQ(ring.InFlight(ready - 1), 1);  // the newest completed copy is the one to submit
  ring.Release(ready);
  EXPECT_EQ(ring.in_flight(), 1);
  EXPECT_EQ(ring.InFlight(0), 2);
  // A later slot that finished before an earlier one waits: copies are consumed in order.
  EXPECT_EQ(ring.Reserve(), 0);
  done[0] = true;
  EXPECT_EQ(ring.CountReady([&](int slot) { return done[slot]; }), 0);  // slot 2 still runs
  done[2] = true;
  EXPECT_EQ(ring.CountReady([&](int slot) { return done[slot]; }), 2);
  ring.Release(5);  // clamped
  EXPECT_EQ(ring.in_flight(), 0);
  EXPECT_EQ(ring.InFlight(0), -1);
  EXPECT_EQ(ring.Reserve(), 1);  // wraps around
}

}  // namespace
}  // namespace sdbridge
