// The OpenPose-format control image drawn from 2-D keypoints, what the public OpenPose ControlNets were trained
// on (the ControlNet 1.1 annotator's body drawing): COCO-18 keypoints (OpenPoseKeypoint), 17 limbs as filled
// ellipses of half-width 4 in 60% of their colour, then each keypoint a filled disc of radius 4 in its full
// colour, opaque, on black. Keypoints snap to whole pixels (floor(x + 0.5); x right, y down, pixel centres at
// integer coordinates) and a pixel is covered when its centre lies inside, tested in exact 64-bit integer
// arithmetic, so this draws the same bytes as the Python reference renderer (sdbridge.pipeline.openpose, whose
// docstring states the convention) and the C# core's; tests/openpose_test.cpp compares against the images the
// Python renderer wrote (schemas/golden/pose). The image is sent as a Control plane (RGBA8) named after the
// server's ControlNet KIND (e.g. "openpose").
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "sdbridge/status.h"

namespace sdbridge {

/// Index of a keypoint in an OpenPoseBody ("right" is the person's right).
enum class OpenPoseKeypoint : uint8_t {
  kNose = 0, kNeck, kRightShoulder, kRightElbow, kRightWrist, kLeftShoulder, kLeftElbow, kLeftWrist,
  kRightHip, kRightKnee, kRightAnkle, kLeftHip, kLeftKnee, kLeftAnkle, kRightEye, kLeftEye, kRightEar, kLeftEar,
};

constexpr int kOpenPoseKeypointCount = 18;
constexpr int kOpenPoseLimbCount = 17;
constexpr int kOpenPoseStickWidth = 4;
constexpr int kOpenPosePointRadius = 4;
/// Largest width or height drawn (keeps the integer tests inside 64 bits).
constexpr uint32_t kOpenPoseMaxSize = 4096;

/// One keypoint in pixels; present = false (or a non-finite coordinate) means missing.
struct OpenPosePoint {
  float x = 0.0F;
  float y = 0.0F;
  bool present = false;
};

using OpenPoseBody = std::array<OpenPosePoint, kOpenPoseKeypointCount>;

/// Limb i joins these two keypoints and is drawn in 60% of OpenPoseColor(i).
std::array<int, 2> OpenPoseLimb(int limb);
/// Keypoint i's colour, R G B (and limb i's before dimming).
std::array<uint8_t, 3> OpenPoseColor(int keypoint);

/// Opaque black, width x height RGBA8 (4 x width bytes a row, top row first).
Status ClearOpenPoseImage(uint32_t width, uint32_t height, std::vector<uint8_t>* image);
/// Draws one body over `image` (as ClearOpenPoseImage made it): limbs, then discs.
Status DrawOpenPose(const OpenPoseBody& body, uint32_t width, uint32_t height, std::vector<uint8_t>* image);
/// A new image with one body drawn.
Status RenderOpenPose(const OpenPoseBody& body, uint32_t width, uint32_t height, std::vector<uint8_t>* image);

}  // namespace sdbridge
