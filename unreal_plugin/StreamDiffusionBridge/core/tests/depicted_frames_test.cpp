// depicted_frames.h: the bookkeeping that ties a result's source_frame_id to the camera and payload (depth copy,
// capture mapping) of the frame it depicts, across the readback ring's delay.
#include <gtest/gtest.h>

#include <string>

#include "sdbridge/depicted_frames.h"

namespace sdbridge {
namespace {

CameraFrame CameraAt(double x) {
  CameraFrame c;
  c.view_proj.at(0, 3) = x;  // a translation tells the cameras apart
  return c;
}

TEST(DepictedFrames, CapturesWaitUntilTheRingHandsThemToTheClient) {
  DepictedFrames<std::string> frames(8);
  frames.AddPending(100, CameraAt(1), "a");
  frames.AddPending(200, CameraAt(2), "b");
  EXPECT_EQ(frames.pending(), 2u);
  EXPECT_EQ(frames.Find(1, nullptr), nullptr);  // no id before submission

  frames.Retire(1, 100, 7);  // the oldest slot completed and went out as frame 7
  EXPECT_EQ(frames.pending(), 1u);
  CameraFrame camera;
  const std::string* payload = frames.Find(7, &camera);
  ASSERT_NE(payload, nullptr);
  EXPECT_EQ(*payload, "a");
  EXPECT_DOUBLE_EQ(camera.view_proj.at(0, 3), 1.0);
}

TEST(DepictedFrames, OnlyTheNewestOfSeveralCompletedSlotsIsKept) {
  DepictedFrames<std::string> frames(8);
  frames.AddPending(100, CameraAt(1), "a");
  frames.AddPending(200, CameraAt(2), "b");
  frames.AddPending(300, CameraAt(3), "c");
  frames.Retire(2, 200, 9);  // two slots completed; the ring hands on only the newest (captured at 200)
  EXPECT_EQ(frames.pending(), 1u);
  EXPECT_EQ(frames.kept(), 1u);
  CameraFrame camera;
  ASSERT_NE(frames.Find(9, &camera), nullptr);
  EXPECT_DOUBLE_EQ(camera.view_proj.at(0, 3), 2.0);
}

TEST(DepictedFrames, AFreedSlotThatWasNotSubmittedIsDropped) {
  DepictedFrames<std::string> frames(8);
  frames.AddPending(100, CameraAt(1), "a");
  frames.Retire(1, 0, 0);  // e.g. the readback could not be read: nothing submitted
  EXPECT_EQ(frames.pending(), 0u);
  EXPECT_EQ(frames.kept(), 0u);
}

TEST(DepictedFrames, KeepsTheNewestIdsUpToCapacity) {
  DepictedFrames<int> frames(3);
  for (uint64_t id = 1; id <= 5; ++id) {
    frames.AddPending(id * 10, CameraAt(static_cast<double>(id)), static_cast<int>(id));
    frames.Retire(1, id * 10, id);
  }
  EXPECT_EQ(frames.kept(), 3u);
  EXPECT_EQ(frames.Find(1, nullptr), nullptr);
  EXPECT_EQ(frames.Find(2, nullptr), nullptr);
  for (uint64_t id = 3; id <= 5; ++id) {
    const int* payload = frames.Find(id, nullptr);
    ASSERT_NE(payload, nullptr) << id;
    EXPECT_EQ(*payload, static_cast<int>(id));
  }
}

TEST(DepictedFrames, PendingIsBoundedWhenOutOfStepWithTheRing) {
  DepictedFrames<int> frames(4);
  for (uint64_t t = 1; t <= DepictedFrames<int>::kMaxPending + 3; ++t) frames.AddPending(t, CameraAt(0), 0);
  EXPECT_EQ(frames.pending(), DepictedFrames<int>::kMaxPending);
  frames.Clear();
  EXPECT_EQ(frames.pending(), 0u);
}

TEST(DepictedFrames, CaptureOnlyWhileACreditIsNotSpokenFor) {
  EXPECT_FALSE(CaptureAllowed(0, 0));  // no credit (e.g. before the Welcome): nothing is captured
  EXPECT_TRUE(CaptureAllowed(1, 0));
  EXPECT_FALSE(CaptureAllowed(1, 1));  // the one credit already has a capture in flight
  EXPECT_TRUE(CaptureAllowed(2, 1));
}

}  // namespace
}  // namespace sdbridge
