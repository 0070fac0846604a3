// reprojection.h: matrix math, the per-pixel warp and the CPU reference warp, checked
// with synthetic depth and camera motion. A camera translation that shifts a fronto-parallel plane by a
// whole number of pixels must reproject EXACTLY with nearest sampling, and pixels the depicted frame could
// not see (disocclusion behind an occluder, beyond the border) must be reported as holes.
//
// Scene: a 64 x 48 image, P00 = 1 and P11 = 4/3 (square pixels). On the background plane at view depth 8 a
// translation of 0.25 world units moves the image by exactly 1 pixel; on the occluder plane at depth 4, by 2.
// Colours encode where a texel came from (column, row, plane), so an expected value never repeats the warp.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "sdbridge/reprojection.h"

namespace sdbridge {
namespace {

constexpr int kW = 64;
constexpr int kH = 48;
constexpr double kBackground = 8.0;  // view depth of the background plane
constexpr double kOccluder = 4.0;    // view depth of the occluder strip
constexpr double kNear = 0.5;
constexpr double kFar = 100.0;
// The occluder strip in world x: exactly the depicted frame's (camera at x = 0) columns 20..29 on its plane.
constexpr double kStripMin = (2.0 * 20 / kW - 1.0) * kOccluder;  // -1.5
constexpr double kStripMax = (2.0 * 30 / kW - 1.0) * kOccluder;  // -0.25

/// Depth conventions the matrices carry (the warp never knows which one it runs with).
enum class Convention { kZeroToOne, kReversedInfinite, kOpenGL };

std::string Name(Convention c) {
  switch (c) {
    case Convention::kZeroToOne: return "ZeroToOne";
    case Convention::kReversedInfinite: return "ReversedInfinite";
    default: return "OpenGL";
  }
}

/// +1: the camera looks down +z (Direct3D / Unreal style); -1: down -z (OpenGL style).
double Forward(Convention c) { return c == Convention::kOpenGL ? -1.0 : 1.0; }

Mat4 Projection(Convention c) {
  Mat4 p;
  p.at(0, 0) = 1.0;
  p.at(1, 1) = static_cast<double>(kW) / kH;
  switch (c) {
    case Convention::kZeroToOne:  // z = near -> 0, z = far -> 1
      p.at(2, 2) = kFar / (kFar - kNear);
      p.at(2, 3) = -kNear * kFar / (kFar - kNear);
      p.at(3, 2) = 1.0;
      break;
    case Convention::kReversedInfinite:  // z = near -> 1, infinity -> 0 (Unreal's default)
      p.at(2, 3) = kNear;
      p.at(3, 2) = 1.0;
      break;
    case Convention::kOpenGL:  // z = -near -> -1, z = -far -> 1
      p.at(2, 2) = -(kFar + kNear) / (kFar - kNear);
      p.at(2, 3) = -2.0 * kFar * kNear / (kFar - kNear);
      p.at(3, 2) = -1.0;
      break;
  }
  return p;
}

/// View-projection of an unrotated camera at (cx, cy, 0).
Mat4 ViewProj(Convention c, double cx, double cy) {
  Mat4 view = Mat4::Identity();
  view.at(0, 3) = -cx;
  view.at(1, 3) = -cy;
  return Multiply(Projection(c), view);
}

double NdcX(int column) { return 2.0 * (column + 0.5) / kW - 1.0; }
double NdcY(int row) { return 1.0 - 2.0 * (row + 0.5) / kH; }

/// Device depth of the surface seen at pixel (x, y) by a camera at (cx, cy); the occluder only if `occluder`.
double SceneDepth(Convention c, double cx, double cy, int x, int y, bool occluder) {
  const double on_strip = cx + NdcX(x) * kOccluder;  // world x where the pixel's ray meets the occluder plane
  const double depth = occluder && on_strip >= kStripMin && on_strip < kStripMax ? kOccluder : kBackground;
  const double world_x = cx + NdcX(x) * depth;
  const double world_y = cy + NdcY(y) * depth * kH / kW;
  const Vec4 clip = Transform(ViewProj(c, cx, cy), Vec4{world_x, world_y, Forward(c) * depth, 1.0});
  return clip.z / clip.w;
}

Image DepthImage(Convention c, double cx, double cy, bool occluder) {
  Image img(kW, kH, 1);
  for (int y = 0; y < kH; ++y) {
    for (int x = 0; x < kW; ++x) img.at(x, y, 0) = static_cast<float>(SceneDepth(c, cx, cy, x, y, occluder));
  }
  return img;
}

/// The stylized result of the depicted frame: (column, row, 1 if the occluder is seen there).
Image ResultImage(const Image& src_depth, Convention c) {
  Image img(kW, kH, 3);
  const float occluder_depth = static_cast<float>(SceneDepth(c, 0.0, 0.0, 25, 0, true));
  for (int y = 0; y < kH; ++y) {
    for (int x = 0; x < kW; ++x) {
      img.at(x, y, 0) = static_cast<float>(x);
      img.at(x, y, 1) = static_cast<float>(y);
      img.at(x, y, 2) = src_depth.at(x, y, 0) == occluder_depth ? 1.0f : 0.0f;
    }
  }
  return img;
}

/// The live frame: values no result texel has, so a hole filled from it is recognisable.
Image LiveImage() {
  Image img(kW, kH, 3);
  for (int y = 0; y < kH; ++y) {
    for (int x = 0; x < kW; ++x) {
      img.at(x, y, 0) = -1.0f - static_cast<float>(x);
      img.at(x, y, 1) = -1.0f - static_cast<float>(y);
      img.at(x, y, 2) = -5.0f;
    }
  }
  return img;
}

DepthTest LinearTest(Convention c) {
  DepthTest test;
  test.space = DepthTest::Space::kLinearRelative;
  test.tolerance = 0.01;
  test.linearizer = *DepthLinearizer::FromProjection(Projection(c));
  return test;
}

struct Scene {
  Image src_depth, dst_depth, result, live;
};

Scene MakeScene(Convention c, double dst_x, double dst_y, bool occluder) {
  Scene s;
  s.src_depth = DepthImage(c, 0.0, 0.0, occluder);
  s.dst_depth = DepthImage(c, dst_x, dst_y, occluder);
  s.result = ResultImage(s.src_depth, c);
  s.live = LiveImage();
  return s;
}

WarpOutput Warp(const Scene& s, Convention c, double dst_x, double dst_y, Sampling sampling, float opacity = 1.0f) {
  WarpInputs in;
  in.result = &s.result;
  in.src_depth = &s.src_depth;
  in.live = &s.live;
  in.dst_depth = &s.dst_depth;
  in.view_proj_src = ViewProj(c, 0.0, 0.0);
  in.view_proj_dst = ViewProj(c, dst_x, dst_y);
  in.depth_test = LinearTest(c);
  in.sampling = sampling;
  in.opacity = opacity;
  return WarpImage(in);
}

HoleReason HoleAt(const WarpOutput& out, int x, int y) {
  return out.holes[static_cast<size_t>(y * kW + x)];
}

class ReprojectionConventions : public ::testing::TestWithParam<Convention> {};

TEST_P(ReprojectionConventions, LinearizerRecoversViewDepth) {
  const Convention c = GetParam();
  const std::optional<DepthLinearizer> lin = DepthLinearizer::FromProjection(Projection(c));
  ASSERT_TRUE(lin.has_value());
  for (double depth : {0.75, 4.0, 8.0, 42.0}) {
    const Vec4 clip = Transform(Projection(c), Vec4{0.0, 0.0, Forward(c) * depth, 1.0});
    EXPECT_NEAR(lin->ViewDepth(clip.z / clip.w), depth, depth * 1e-9) << Name(c);
  }
}

TEST_P(ReprojectionConventions, SameCameraIsTheIdentityWithNoHoles) {
  const Convention c = GetParam();
  const Scene s = MakeScene(c, 0.0, 0.0, true);
  const WarpOutput out = Warp(s, c, 0.0, 0.0, Sampling::kNearest);
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.hole_count, 0u);
  EXPECT_EQ(out.image.pixels, s.result.pixels);
}

TEST_P(ReprojectionConventions, HorizontalTranslationOfAPlaneShiftsExactly) {
  const Convention c = GetParam();
  const double tx = 0.75;  // 3 pixels on the background plane
  const Scene s = MakeScene(c, tx, 0.0, false);
  const WarpOutput out = Warp(s, c, tx, 0.0, Sampling::kNearest);
  ASSERT_TRUE(out.ok) << out.error;
  for (int y = 0; y < kH; ++y) {
    for (int x = 0; x < kW; ++x) {
      if (x + 3 >= kW) {  // the depicted frame never saw this part of the plane
        EXPECT_EQ(HoleAt(out, x, y), HoleReason::kOutside) << x << "," << y;
        EXPECT_EQ(out.image.at(x, y, 0), s.live.at(x, y, 0));
        continue;
      }
      ASSERT_EQ(HoleAt(out, x, y), HoleReason::kNone) << Name(c) << " " << x << "," << y;
      EXPECT_EQ(out.image.at(x, y, 0), static_cast<float>(x + 3)) << x << "," << y;
      EXPECT_EQ(out.image.at(x, y, 1), static_cast<float>(y)) << x << "," << y;
    }
  }
  EXPECT_EQ(out.hole_count, static_cast<size_t>(3 * kH));
}

TEST_P(ReprojectionConventions, VerticalTranslationUsesTopDownRows) {
  const Convention c = GetParam();
  const double ty = 0.5;  // camera moves up 2 pixels: the scene moves down, dst row y shows src row y - 2
  const Scene s = MakeScene(c, 0.0, ty, false);
  const WarpOutput out = Warp(s, c, 0.0, ty, Sampling::kNearest);
  ASSERT_TRUE(out.ok) << out.error;
  for (int y = 0; y < kH; ++y) {
    for (int x = 0; x < kW; ++x) {
      if (y < 2) {
        EXPECT_EQ(HoleAt(out, x, y), HoleReason::kOutside) << x << "," << y;
        continue;
      }
      ASSERT_EQ(HoleAt(out, x, y), HoleReason::kNone) << x << "," << y;
      EXPECT_EQ(out.image.at(x, y, 0), static_cast<float>(x));
      EXPECT_EQ(out.image.at(x, y, 1), static_cast<float>(y - 2));
    }
  }
}

TEST_P(ReprojectionConventions, OccluderSceneReprojectsExactlyAndReportsDisocclusion) {
  const Convention c = GetParam();
  const double tx = 0.75;  // background moves 3 pixels, the occluder (twice as near) 6
  const Scene s = MakeScene(c, tx, 0.0, true);
  const WarpOutput out = Warp(s, c, tx, 0.0, Sampling::kNearest);
  ASSERT_TRUE(out.ok) << out.error;
  size_t disoccluded = 0;
  for (int y = 0; y < kH; ++y) {
    for (int x = 0; x < kW; ++x) {
      const bool occluder_here = x >= 14 && x < 24;  // dst columns of the strip (src columns 20..29 minus 6)
      const int src_x = x + (occluder_here ? 6 : 3);
      const float plane = occluder_here ? 1.0f : 0.0f;
      if (src_x >= kW) {
        EXPECT_EQ(HoleAt(out, x, y), HoleReason::kOutside) << x << "," << y;
      } else if (!occluder_here && src_x >= 20 && src_x < 30) {
        // background the depicted frame saw only the occluder in front of: dst columns 24, 25, 26
        EXPECT_EQ(HoleAt(out, x, y), HoleReason::kDisoccluded) << Name(c) << " " << x << "," << y;
        EXPECT_EQ(out.image.at(x, y, 2), s.live.at(x, y, 2));
        ++disoccluded;
      } else {
        ASSERT_EQ(HoleAt(out, x, y), HoleReason::kNone) << Name(c) << " " << x << "," << y;
        EXPECT_EQ(out.image.at(x, y, 0), static_cast<float>(src_x)) << x << "," << y;
        EXPECT_EQ(out.image.at(x, y, 1), static_cast<float>(y)) << x << "," << y;
        EXPECT_EQ(out.image.at(x, y, 2), plane) << x << "," << y;
      }
    }
  }
  EXPECT_EQ(disoccluded, static_cast<size_t>(3 * kH));
  EXPECT_EQ(out.hole_count, static_cast<size_t>(6 * kH));  // 3 disoccluded + 3 outside columns
}

TEST_P(ReprojectionConventions, WithoutTheDepthTestDisocclusionShowsTheOccluder) {
  // The test above can fail: with the disocclusion test off, the same pixels sample the occluder.
  const Convention c = GetParam();
  const Scene s = MakeScene(c, 0.75, 0.0, true);
  WarpInputs in;
  in.result = &s.result;
  in.src_depth = &s.src_depth;
  in.live = &s.live;
  in.dst_depth = &s.dst_depth;
  in.view_proj_src = ViewProj(c, 0.0, 0.0);
  in.view_proj_dst = ViewProj(c, 0.75, 0.0);
  in.depth_test.space = DepthTest::Space::kOff;
  const WarpOutput out = WarpImage(in);
  ASSERT_TRUE(out.ok);
  EXPECT_EQ(HoleAt(out, 25, 10), HoleReason::kNone);
  EXPECT_EQ(out.image.at(25, 10, 2), 1.0f);  // the occluder's colour smeared over the disoccluded background
}

TEST_P(ReprojectionConventions, BilinearHalfPixelShiftAveragesNeighbours) {
  const Convention c = GetParam();
  const double tx = 0.125;  // half a pixel on the background plane
  const Scene s = MakeScene(c, tx, 0.0, false);
  const WarpOutput still = Warp(s, c, 0.0, 0.0, Sampling::kBilinear);  // no motion: texel centres, up to rounding
  ASSERT_TRUE(still.ok);
  ASSERT_EQ(still.image.pixels.size(), s.result.pixels.size());
  for (size_t i = 0; i < s.result.pixels.size(); ++i) EXPECT_NEAR(still.image.pixels[i], s.result.pixels[i], 1e-5);
  const WarpOutput out = Warp(s, c, tx, 0.0, Sampling::kBilinear);
  ASSERT_TRUE(out.ok) << out.error;
  for (int y = 1; y < kH - 1; ++y) {
    for (int x = 1; x < kW - 2; ++x) {
      ASSERT_EQ(HoleAt(out, x, y), HoleReason::kNone);
      EXPECT_NEAR(out.image.at(x, y, 0), x + 0.5, 1e-5) << x << "," << y;
      EXPECT_NEAR(out.image.at(x, y, 1), y, 1e-5) << x << "," << y;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Conventions, ReprojectionConventions,
                         ::testing::Values(Convention::kZeroToOne, Convention::kReversedInfinite, Convention::kOpenGL),
                         [](const ::testing::TestParamInfo<Convention>& param_info) { return Name(param_info.param); });

TEST(Reprojection, DiagonalTranslationShiftsBothAxes) {
  const Convention c = Convention::kReversedInfinite;
  const Scene s = MakeScene(c, 0.75, 0.5, false);
  const WarpOutput out = Warp(s, c, 0.75, 0.5, Sampling::kNearest);
  ASSERT_TRUE(out.ok);
  for (int y = 2; y < kH; ++y) {
    for (int x = 0; x + 3 < kW; ++x) {
      ASSERT_EQ(HoleAt(out, x, y), HoleReason::kNone);
      EXPECT_EQ(out.image.at(x, y, 0), static_cast<float>(x + 3));
      EXPECT_EQ(out.image.at(x, y, 1), static_cast<float>(y - 2));
    }
  }
  EXPECT_EQ(out.hole_count, static_cast<size_t>(3 * kH + 2 * kW - 2 * 3));
}

TEST(Reprojection, PointBehindTheDepictedCameraIsAHole) {
  // The depicted frame's camera stood at z = 10, past the plane at z = 8 the current camera (z = 0) sees.
  const Mat4 proj = Projection(Convention::kZeroToOne);
  Mat4 src_view = Mat4::Identity();
  src_view.at(2, 3) = -10.0;
  const std::optional<Mat4> m = ReprojectionMatrix(Multiply(proj, src_view), proj);
  ASSERT_TRUE(m.has_value());
  const Vec4 clip = Transform(proj, Vec4{0.0, 0.0, 8.0, 1.0});
  const SourceLookup lookup = LookupSource(*m, 0.5, 0.5, clip.z / clip.w);
  EXPECT_EQ(lookup.hole, HoleReason::kBehindCamera);
  EXPECT_EQ(ClassifyPixel(lookup, 0.5, DepthTest{}), HoleReason::kBehindCamera);
}

TEST(Reprojection, OpacityBlendsOverTheLiveFrame) {
  const Convention c = Convention::kZeroToOne;
  const Scene s = MakeScene(c, 0.75, 0.0, true);
  const WarpOutput none = Warp(s, c, 0.75, 0.0, Sampling::kNearest, 0.0f);
  ASSERT_TRUE(none.ok);
  EXPECT_EQ(none.image.pixels, s.live.pixels);
  const WarpOutput half = Warp(s, c, 0.75, 0.0, Sampling::kNearest, 0.5f);
  ASSERT_TRUE(half.ok);
  EXPECT_FLOAT_EQ(half.image.at(5, 7, 0), 0.5f * (8.0f + (-6.0f)));  // src column 8, live -1 - 5
  EXPECT_EQ(half.image.at(25, 7, 0), s.live.at(25, 7, 0));          // a hole stays live at any opacity
}

TEST(Reprojection, DepthTestToleranceIsRelativeInLinearDepth) {
  DepthTest test = LinearTest(Convention::kZeroToOne);
  const auto ndc = [](double depth) {
    const Vec4 clip = Transform(Projection(Convention::kZeroToOne), Vec4{0.0, 0.0, depth, 1.0});
    return clip.z / clip.w;
  };
  EXPECT_TRUE(test.Matches(ndc(8.0), ndc(8.04)));   // 0.5 %
  EXPECT_FALSE(test.Matches(ndc(8.0), ndc(8.2)));   // 2.5 %
  EXPECT_TRUE(test.Matches(ndc(80.0), ndc(80.4)));  // relative, not absolute: far away too
  test.space = DepthTest::Space::kNdcAbsolute;
  test.tolerance = 1e-3;
  EXPECT_TRUE(test.Matches(0.5, 0.5009));
  EXPECT_FALSE(test.Matches(0.5, 0.502));
  // Reversed-Z with an infinite far plane: the sky (NDC 0) on both sides is the same surface.
  const DepthTest infinite = LinearTest(Convention::kReversedInfinite);
  EXPECT_TRUE(infinite.Matches(0.0, 0.0));
  EXPECT_FALSE(infinite.Matches(0.0, 0.1));
}

TEST(Reprojection, OrthographicProjectionHasNoLinearizer) {
  Mat4 ortho = Mat4::Identity();
  ortho.at(2, 2) = 0.01;
  EXPECT_FALSE(DepthLinearizer::FromProjection(ortho).has_value());
}

TEST(Mat4Math, InverseTimesMatrixIsIdentity) {
  const Mat4 m = Multiply(Projection(Convention::kOpenGL), ViewProj(Convention::kZeroToOne, 1.5, -2.0));
  const std::optional<Mat4> inv = Inverse(m);
  ASSERT_TRUE(inv.has_value());
  const Mat4 product = Multiply(m, *inv);
  for (int r = 0; r < 4; ++r) {
    for (int col = 0; col < 4; ++col) EXPECT_NEAR(product.at(r, col), r == col ? 1.0 : 0.0, 1e-12);
  }
  const Mat4 general = Mat4::FromRowMajor({2, 1, 0, 3, 0, 1, 4, 1, 5, 0, 1, 0, 1, 2, 0, 1});
  const std::optional<Mat4> g = Inverse(general);
  ASSERT_TRUE(g.has_value());
  const Mat4 back = Multiply(*g, general);
  for (int r = 0; r < 4; ++r) {
    for (int col = 0; col < 4; ++col) EXPECT_NEAR(back.at(r, col), r == col ? 1.0 : 0.0, 1e-12);
  }
}

TEST(Mat4Math, SingularMatrixHasNoInverse) {
  Mat4 m = Mat4::Identity();
  m.at(2, 2) = 0.0;
  EXPECT_FALSE(Inverse(m).has_value());
  EXPECT_FALSE(ReprojectionMatrix(Mat4::Identity(), m).has_value());
  const Mat4 rank3 = Mat4::FromRowMajor({1, 2, 3, 4, 2, 4, 6, 8, 0, 1, 0, 0, 0, 0, 1, 0});
  EXPECT_FALSE(Inverse(rank3).has_value());
}

TEST(Mat4Math, MultiplyAndTransformFollowColumnVectors) {
  Mat4 translate = Mat4::Identity();
  translate.at(0, 3) = 5.0;  // row-major storage, column-vector convention: translation in the last column
  const Vec4 p = Transform(translate, Vec4{1.0, 2.0, 3.0, 1.0});
  EXPECT_EQ(p.x, 6.0);
  EXPECT_EQ(p.w, 1.0);
  Mat4 scale = Mat4::Identity();
  scale.at(0, 0) = 2.0;
  EXPECT_EQ(Transform(Multiply(scale, translate), Vec4{1.0, 0.0, 0.0, 1.0}).x, 12.0);  // translate first
  EXPECT_EQ(translate.Transposed().at(3, 0), 5.0);
}

TEST(Reprojection, BadInputsAreReportedNotWarped) {
  WarpInputs in;
  WarpOutput out = WarpImage(in);
  EXPECT_FALSE(out.ok);
  EXPECT_NE(std::string(out.error).find("must all be set"), std::string::npos);
  const Scene s = MakeScene(Convention::kZeroToOne, 0.0, 0.0, false);
  in.result = &s.result;
  in.src_depth = &s.src_depth;
  in.live = &s.live;
  in.dst_depth = &s.dst_depth;
  Mat4 singular = Mat4::Identity();
  singular.at(3, 3) = 0.0;
  in.view_proj_dst = singular;
  out = WarpImage(in);
  EXPECT_FALSE(out.ok);
  EXPECT_NE(std::string(out.error).find("singular"), std::string::npos);
  in.view_proj_dst = Mat4::Identity();
  const Image small(8, 8, 1);
  in.dst_depth = &small;
  out = WarpImage(in);
  EXPECT_FALSE(out.ok);
  EXPECT_NE(std::string(out.error).find("live frame's size"), std::string::npos);
}

TEST(CameraHistoryTest, KeepsTheNewestAndDropsTheOldest) {
  CameraHistory history(3);
  for (uint64_t id = 1; id <= 5; ++id) {
    CameraFrame f;
    f.view_proj.at(0, 3) = static_cast<double>(id);
    history.Record(id, f);
  }
  EXPECT_EQ(history.size(), 3u);
  EXPECT_FALSE(history.Find(1).has_value());
  EXPECT_FALSE(history.Find(2).has_value());
  ASSERT_TRUE(history.Find(3).has_value());
  EXPECT_EQ(history.Find(3)->view_proj.at(0, 3), 3.0);
  EXPECT_EQ(history.Find(5)->view_proj.at(0, 3), 5.0);
  CameraFrame again;
  again.view_proj.at(0, 3) = 40.0;
  history.Record(4, again);  // replacing keeps every other entry
  EXPECT_EQ(history.size(), 3u);
  EXPECT_EQ(history.Find(4)->view_proj.at(0, 3), 40.0);
  EXPECT_TRUE(history.Find(3).has_value());
  EXPECT_FALSE(history.Find(99).has_value());
  EXPECT_EQ(CameraHistory(0).capacity(), 1u);
}

}  // namespace
}  // namespace sdbridge
