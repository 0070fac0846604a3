// Protocol 1.3 Frame planes in the C++ codec: every plane kind and a two-plane frame encode to flatc's golden bytes
// (schemas/golden/frame_plane_*.bin) and decode back to the same descriptions; a frame without planes is unchanged.
#include <gtest/gtest.h>

#include "golden_io.h"
#include "sdbridge/codec.h"

namespace sdbridge {
namespace {

using testing::ReadGolden;

FrameHeader PlaneFrame(uint64_t frame_id, std::vector<PlaneDesc> planes) {
  FrameHeader f = testing::GoldenFrame(frame_id);
  f.planes = std::move(planes);
  return f;
}

PlaneDesc Depth() {
  PlaneDesc p = PlaneDesc::Packed(PlaneKind::kDepth, PlaneFormat::kR32F, 2, 1);
  p.depth_encoding = DepthEncoding::kDevice;
  p.reversed_z = true;
  p.depth_near = 0.25f;
  p.depth_far = 1000.0f;
  return p;
}

PlaneDesc Normals() {
  PlaneDesc p = PlaneDesc::Packed(PlaneKind::kNormals, PlaneFormat::kRGBA16F, 4, 2);
  p.row_order = RowOrder::kBottomUp;
  p.normal_space = NormalSpace::kView;
  p.normal_encoding = NormalEncoding::kSigned;
  return p;
}

PlaneDesc Segmentation() {
  PlaneDesc p = PlaneDesc::Packed(PlaneKind::kSegmentation, PlaneFormat::kR16UI, 4, 2);
  p.name = "instance";
  return p;
}

PlaneDesc Motion() {
  PlaneDesc p = PlaneDesc::Packed(PlaneKind::kMotion, PlaneFormat::kRG16F, 4, 2);
  p.motion_units = MotionUnits::kPixels;
  p.motion_target = MotionTarget::kPrevious;
  p.motion_y_up = true;
  return p;
}

PlaneDesc Control() {
  PlaneDesc p = PlaneDesc::Packed(PlaneKind::kControl, PlaneFormat::kRGBA8, 4, 2);
  p.name = "pose";
  return p;
}

void ExpectSamePlane(const PlaneDesc& got, const PlaneDesc& want, const std::string& where) {
  EXPECT_EQ(got.kind, want.kind) << where;
  EXPECT_EQ(got.format, want.format) << where;
  EXPECT_EQ(got.width, want.width) << where;
  EXPECT_EQ(got.height, want.height) << where;
  EXPECT_EQ(got.stride, want.stride) << where;
  EXPECT_EQ(got.row_order, want.row_order) << where;
  EXPECT_EQ(got.depth_encoding, want.depth_encoding) << where;
  EXPECT_EQ(got.reversed_z, want.reversed_z) << where;
  EXPECT_EQ(got.depth_near, want.depth_near) << where;
  EXPECT_EQ(got.depth_far, want.depth_far) << where;
  EXPECT_EQ(got.normal_space, want.normal_space) << where;
  EXPECT_EQ(got.normal_encoding, want.normal_encoding) << where;
  EXPECT_EQ(got.motion_units, want.motion_units) << where;
  EXPECT_EQ(got.motion_target, want.motion_target) << where;
  EXPECT_EQ(got.motion_y_up, want.motion_y_up) << where;
  EXPECT_EQ(got.name, want.name) << where;
}

void ExpectBothWays(const std::string& name, const FrameHeader& want) {
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(Encode(want, &bytes).ok());
  const auto golden = ReadGolden(name + ".bin");
  EXPECT_EQ(bytes, golden) << name << ": C++ bytes differ from flatc's";
  Message m;
  Status s = Decode(golden.data(), golden.size(), &m);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_TRUE(std::holds_alternative<FrameHeader>(m)) << MessageName(m);
  const FrameHeader& got = std::get<FrameHeader>(m);
  EXPECT_EQ(got.frame_id, want.frame_id);
  ASSERT_EQ(got.planes.size(), want.planes.size()) << name;
  for (size_t i = 0; i < want.planes.size(); ++i) {
    ExpectSamePlane(got.planes[i], want.planes[i], name + " plane " + std::to_string(i));
    EXPECT_EQ(ReadGolden(name + ".plane" + std::to_string(i) + ".bin").size(), got.planes[i].ByteCount()) << name;
  }
}

TEST(PlaneGolden, EachKindBothWays) {
  ExpectBothWays("frame_plane_depth", PlaneFrame(10, {Depth()}));
  ExpectBothWays("frame_plane_normals", PlaneFrame(11, {Normals()}));
  ExpectBothWays("frame_plane_segmentation", PlaneFrame(12, {Segmentation()}));
  ExpectBothWays("frame_plane_motion", PlaneFrame(13, {Motion()}));
  ExpectBothWays("frame_plane_control", PlaneFrame(14, {Control()}));
}

TEST(PlaneGolden, TwoPlanesInOneFrameBothWays) {
  PlaneDesc depth = Depth();
  depth.depth_encoding = DepthEncoding::kLinear;
  depth.reversed_z = false;
  depth.depth_near = 0.5f;
  depth.depth_far = 250.0f;
  PlaneDesc motion = Motion();
  motion.motion_units = MotionUnits::kUV;
  motion.motion_target = MotionTarget::kNext;
  motion.motion_y_up = false;
  ExpectBothWays("frame_planes_depth_motion", PlaneFrame(20, {depth, motion}));
}

TEST(PlaneGolden, AFrameWithoutPlanesIsTheOldBytes) {
  const auto golden = ReadGolden("frame_rgba8.bin");
  Message m;
  ASSERT_TRUE(Decode(golden.data(), golden.size(), &m).ok());
  ASSERT_TRUE(std::holds_alternative<FrameHeader>(m));
  EXPECT_TRUE(std::get<FrameHeader>(m).planes.empty());
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(Encode(std::get<FrameHeader>(m), &bytes).ok());
  EXPECT_EQ(bytes, golden);
}

TEST(PlaneGolden, BytesPerPixelMatchesTheSchema) {
  static_assert(BytesPerPixel(PlaneFormat::kR16F) == 2 && BytesPerPixel(PlaneFormat::kRGBA16F) == 8 &&
                BytesPerPixel(PlaneFormat::kUnknown) == 0);
  EXPECT_EQ(PlaneDesc::Packed(PlaneKind::kDepth, PlaneFormat::kR32F, 2, 1).stride, 8u);
}

}  // namespace
}  // namespace sdbridge
