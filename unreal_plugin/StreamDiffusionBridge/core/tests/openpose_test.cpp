// The C++ OpenPose renderer (sdbridge/openpose.h) draws exactly the reference images the Python renderer
// (sdbridge.pipeline.openpose) wrote from the same keypoints (schemas/golden/pose/*.keypoints -> *.rgba), and
// refuses an image size outside its limit naming it.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "sdbridge/openpose.h"

namespace sdbridge {
namespace {

std::string PoseDir() { return std::string(SDB_GOLDEN_DIR) + "/pose/"; }

OpenPoseBody ReadKeypoints(const std::string& path, uint32_t* width, uint32_t* height) {
  OpenPoseBody body{};
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    std::istringstream fields(line);
    std::string tag;
    if (!(fields >> tag)) continue;
    if (tag == "size") {
      fields >> *width >> *height;
    } else if (tag == "kp") {
      size_t k = 0;
      fields >> k;
      fields >> body.at(k).x >> body.at(k).y;
      body.at(k).present = true;
    }
  }
  return body;
}

class OpenPoseGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(OpenPoseGolden, DrawsThePythonReferenceImageExactly) {
  uint32_t width = 0, height = 0;
  const OpenPoseBody body = ReadKeypoints(PoseDir() + GetParam() + ".keypoints", &width, &height);
  std::ifstream in(PoseDir() + GetParam() + ".rgba", std::ios::binary);
  const std::vector<uint8_t> expected((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<uint8_t> actual;
  ASSERT_TRUE(RenderOpenPose(body, width, height, &actual).ok());
  ASSERT_EQ(expected.size(), actual.size());
  size_t differing = 0, first = expected.size();
  for (size_t i = 0; i < expected.size(); ++i) {
    if (expected[i] == actual[i]) continue;
    ++differing;
    if (first == expected.size()) first = i;
  }
  EXPECT_EQ(differing, 0U) << GetParam() << ": first differing pixel x " << (first / 4U) % width << ", y "
                           << (first / 4U) / width;
}

INSTANTIATE_TEST_SUITE_P(Pose, OpenPoseGolden, ::testing::Values("standing", "partial", "diagonal"));

TEST(OpenPose, ALimbIsDimmedAndAKeypointIsFullColour) {
  OpenPoseBody body{};
  body[static_cast<size_t>(OpenPoseKeypoint::kNeck)] = {10.0F, 10.0F, true};
  body[static_cast<size_t>(OpenPoseKeypoint::kRightShoulder)] = {30.0F, 10.0F, true};
  std::vector<uint8_t> image;
  ASSERT_TRUE(RenderOpenPose(body, 40, 24, &image).ok());
  auto at = [&](size_t x, size_t y) {
    const size_t i = (y * 40U + x) * 4U;
    return std::to_string(image[i]) + "," + std::to_string(image[i + 1]) + "," + std::to_string(image[i + 2]) +
           "," + std::to_string(image[i + 3]);
  };
  EXPECT_EQ(at(20, 14), "153,0,0,255");
  EXPECT_EQ(at(20, 15), "0,0,0,255");
  EXPECT_EQ(at(10, 10), "255,85,0,255");
  EXPECT_EQ(at(30, 10), "255,170,0,255");
}

TEST(OpenPose, RefusesASizeOutsideTheLimit) {
  std::vector<uint8_t> image;
  const Status s = RenderOpenPose(OpenPoseBody{}, 5000, 8, &image);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("1..4096"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace sdbridge
