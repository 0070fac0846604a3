// capture_fit.h: the view -> server-frame rectangles of the Fit / Crop / Stretch policies
// and the inverse the composite pass uses to draw the result over the view.
#include <gtest/gtest.h>

#include "sdbridge/capture_fit.h"

namespace sdbridge {
namespace {

CaptureMapping Map(CaptureFit fit, uint32_t vw, uint32_t vh, uint32_t tw, uint32_t th) {
  CaptureMapping m;
  const Status s = ComputeCaptureMapping(fit, vw, vh, tw, th, &m);
  EXPECT_TRUE(s.ok()) << s.message();
  return m;
}

TEST(CaptureFit, FitLetterboxesAWideViewInWholePixels) {
  const CaptureMapping m = Map(CaptureFit::kFit, 1920, 1080, 512, 512);
  EXPECT_EQ(m.dest_pixels.x, 0u);
  EXPECT_EQ(m.dest_pixels.width, 512u);
  EXPECT_EQ(m.dest_pixels.height, 288u);  // 512 * 1080 / 1920
  EXPECT_EQ(m.dest_pixels.y, 112u);       // (512 - 288) / 2
  EXPECT_DOUBLE_EQ(m.dest.min_v, 112.0 / 512.0);
  EXPECT_DOUBLE_EQ(m.dest.max_v, 400.0 / 512.0);
  EXPECT_DOUBLE_EQ(m.source.min_u, 0.0);  // the whole view is sent
  EXPECT_DOUBLE_EQ(m.source.max_v, 1.0);
}

TEST(CaptureFit, FitPillarboxesATallViewAndPutsAnOddBarPixelLast) {
  const CaptureMapping m = Map(CaptureFit::kFit, 1000, 2000, 511, 512);
  EXPECT_EQ(m.dest_pixels.height, 512u);
  EXPECT_EQ(m.dest_pixels.width, 256u);
  EXPECT_EQ(m.dest_pixels.x, 127u);  // 255 bar pixels: 127 left, 128 right
  EXPECT_EQ(m.dest_pixels.y, 0u);
}

TEST(CaptureFit, CropTakesTheCentreOfTheViewAtTheTargetsAspect) {
  const CaptureMapping m = Map(CaptureFit::kCrop, 1920, 1080, 512, 512);
  EXPECT_DOUBLE_EQ(m.source.min_u, 420.0 / 1920.0);  // a centred 1080 x 1080 square
  EXPECT_DOUBLE_EQ(m.source.max_u, 1500.0 / 1920.0);
  EXPECT_DOUBLE_EQ(m.source.min_v, 0.0);
  EXPECT_DOUBLE_EQ(m.source.max_v, 1.0);
  EXPECT_EQ(m.dest_pixels.width, 512u);  // fills the whole target
  EXPECT_EQ(m.dest_pixels.height, 512u);
  EXPECT_FALSE(MapViewToTarget(m, 0.1, 0.5).has_value());  // the cropped edge is not in the result
}

TEST(CaptureFit, StretchMapsWholeOntoWhole) {
  const CaptureMapping m = Map(CaptureFit::kStretch, 1920, 1080, 512, 512);
  const auto p = MapViewToTarget(m, 0.25, 0.75);
  ASSERT_TRUE(p.has_value());
  EXPECT_DOUBLE_EQ(p->u, 0.25);
  EXPECT_DOUBLE_EQ(p->v, 0.75);
}

TEST(CaptureFit, SameAspectIsIdentityForEveryPolicy) {
  for (CaptureFit fit : {CaptureFit::kFit, CaptureFit::kCrop, CaptureFit::kStretch}) {
    const CaptureMapping m = Map(fit, 1024, 512, 512, 256);
    EXPECT_DOUBLE_EQ(m.source.min_u, 0.0) << CaptureFitName(fit);
    EXPECT_DOUBLE_EQ(m.source.max_u, 1.0) << CaptureFitName(fit);
    EXPECT_DOUBLE_EQ(m.dest.min_v, 0.0) << CaptureFitName(fit);
    EXPECT_DOUBLE_EQ(m.dest.max_v, 1.0) << CaptureFitName(fit);
  }
}

TEST(CaptureFit, ViewToTargetAndBackRoundTrip) {
  for (CaptureFit fit : {CaptureFit::kFit, CaptureFit::kCrop, CaptureFit::kStretch}) {
    const CaptureMapping m = Map(fit, 1280, 720, 640, 480);
    for (double u = 0.3; u < 0.7; u += 0.05) {
      for (double v = 0.05; v < 0.95; v += 0.1) {
        const auto t = MapViewToTarget(m, u, v);
        ASSERT_TRUE(t.has_value()) << CaptureFitName(fit) << " " << u << "," << v;
        const auto back = MapTargetToView(m, t->u, t->v);
        ASSERT_TRUE(back.has_value());
        EXPECT_NEAR(back->u, u, 1e-12);
        EXPECT_NEAR(back->v, v, 1e-12);
      }
    }
  }
}

TEST(CaptureFit, FitKeepsTheViewsAspectInTheTarget) {
  const CaptureMapping m = Map(CaptureFit::kFit, 1280, 720, 640, 480);
  const double picture_aspect = (m.dest.width() * 640.0) / (m.dest.height() * 480.0);
  EXPECT_NEAR(picture_aspect, 1280.0 / 720.0, 0.01);  // within a pixel's rounding
  EXPECT_FALSE(MapTargetToView(m, 0.5, 0.01).has_value());  // the top bar shows no view
  EXPECT_TRUE(MapTargetToView(m, 0.5, 0.5).has_value());
}

TEST(CaptureFit, BadSizesAndPoliciesAreNamed) {
  CaptureMapping m;
  Status s = ComputeCaptureMapping(CaptureFit::kFit, 0, 1080, 512, 512, &m);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("view_width is 0"), std::string::npos) << s.message();
  s = ComputeCaptureMapping(CaptureFit::kFit, 1920, 1080, 512, 70000, &m);
  EXPECT_NE(s.message().find("target_height is 70000"), std::string::npos) << s.message();
  s = ComputeCaptureMapping(static_cast<CaptureFit>(7), 1920, 1080, 512, 512, &m);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("fit is 7"), std::string::npos) << s.message();
  EXPECT_STREQ(CaptureFitName(static_cast<CaptureFit>(7)), "Unknown");
}

}  // namespace
}  // namespace sdbridge
