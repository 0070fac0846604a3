// The Unreal layer's matrix hand-over, checked with matrices built the way Unreal Engine builds
// them, so that a missing transpose, a wrong y flip or a wrong depth convention fails here and not only on a GPU.
//
// What Unreal does (UE 5.3-5.5; FMatrix is ROW-vector convention: clip = [x y z 1] * M, M.M[row][col]):
// - view = FTranslationMatrix(-ViewLocation) * FInverseRotationMatrix(ViewRotation) * swizzle, where the swizzle
//   rows are (0,0,1,0), (1,0,0,0), (0,1,0,0), (0,0,0,1): world X forward / Y right / Z up (left-handed) become view
//   x right / y up / z forward (SceneView.cpp, LocalPlayer.cpp);
// - projection = FReversedZPerspectiveMatrix(HalfFOV, Width, Height, MinZ) with an infinite far plane: rows
//   (1/tan, 0, 0, 0), (0, Width/tan/Height, 0, 0), (0, 0, 0, 1), (0, 0, MinZ, 0) (Math/PerspectiveMatrix.h):
//   device depth = MinZ / view depth, 1 at the near plane, 0 at infinity (reversed Z);
// - NDC y points up; texture rows go down: uv.v = (1 - ndc.y) / 2 (the core's convention, reprojection.h).
// The plugin (Private/Rendering/SDBridgePasses.cpp, DescribeView/ToCore) passes View.ViewMatrices.GetViewMatrix() *
// GetProjectionNoAAMatrix() to the core as Mat4::FromRowMajor(M.M values).Transposed(); these tests do the same.
//
// Worked example (the numbers below): a 64 x 48 view, HalfFOV 45 degrees (P00 = 1, P11 = 64/48), near plane 10,
// a wall 800 units in front of the camera. One pixel is 2/64 NDC horizontally and 2/48 vertically, so at depth 800
// a camera move of 800 * (2/64) / P00 = 25 units right, or 800 * (2/48) / P11 = 25 units up, shifts the picture
// by exactly one pixel: left for a move right (dst column x shows src column x + 1), down for a move up (dst row y
// shows src row y - 1). The wall's device depth is 10 / 800 = 0.0125 for both cameras.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstddef>

#include "sdbridge/reprojection.h"

namespace sdbridge {
namespace {

constexpr int kW = 64;
constexpr int kH = 48;
constexpr double kNear = 10.0;   // Unreal's default near clip plane, in cm
constexpr double kWall = 800.0;  // distance of the wall in front of the camera
constexpr double kPi = 3.14159265358979323846;

/// An Unreal FMatrix: M[row][col], row-vector convention.
using UeMatrix = std::array<std::array<double, 4>, 4>;

UeMatrix UeMultiply(const UeMatrix& a, const UeMatrix& b) {  // FMatrix operator*: apply a, then b
  UeMatrix out{};
  for (size_t r = 0; r < 4; ++r) {
    for (size_t c = 0; c < 4; ++c) {
      for (size_t k = 0; k < 4; ++k) out[r][c] += a[r][k] * b[k][c];
    }
  }
  return out;
}

/// [x y z 1] * M, then the division by w.
std::array<double, 3> UeProject(const UeMatrix& m, double x, double y, double z) {
  std::array<double, 4> v{x, y, z, 1.0};
  std::array<double, 4> out{};
  for (size_t c = 0; c < 4; ++c) {
    for (size_t k = 0; k < 4; ++k) out[c] += v[k] * m[k][c];
  }
  return {out[0] / out[3], out[1] / out[3], out[2] / out[3]};
}

/// View matrix of a camera at (x, y, z) with a yaw (pitch = roll = 0), as FViewMatrices builds it.
UeMatrix UeView(double x, double y, double z, double yaw_degrees) {
  UeMatrix translation{{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {-x, -y, -z, 1}}};
  const double cy = std::cos(yaw_degrees * kPi / 180.0);
  const double sy = std::sin(yaw_degrees * kPi / 180.0);
  // FRotationMatrix rows are the camera's forward, right and up axes in world space; its inverse is the transpose.
  const UeMatrix rotation{{{cy, sy, 0, 0}, {-sy, cy, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}};
  UeMatrix inverse_rotation{};
  for (size_t r = 0; r < 4; ++r) {
    for (size_t c = 0; c < 4; ++c) inverse_rotation[r][c] = rotation[c][r];
  }
  const UeMatrix swizzle{{{0, 0, 1, 0}, {1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 0, 1}}};
  return UeMultiply(UeMultiply(translation, inverse_rotation), swizzle);
}

/// FReversedZPerspectiveMatrix(HalfFOV = 45 degrees, kW, kH, kNear): infinite far plane.
UeMatrix UeProjection() {
  const double inv_tan = 1.0 / std::tan(kPi / 4.0);
  return UeMatrix{{{inv_tan, 0, 0, 0}, {0, inv_tan * kW / kH, 0, 0}, {0, 0, 0, 1}, {0, 0, kNear, 0}}};
}

/// What SDBridgePasses.cpp (ToCore) hands to the core.
Mat4 ToCore(const UeMatrix& m) {
  std::array<double, 16> values{};
  for (size_t r = 0; r < 4; ++r) {
    for (size_t c = 0; c < 4; ++c) values[r * 4 + c] = m[r][c];
  }
  return Mat4::FromRowMajor(values).Transposed();
}

Mat4 CoreViewProj(double x, double y, double z, double yaw_degrees = 0.0) {
  return ToCore(UeMultiply(UeView(x, y, z, yaw_degrees), UeProjection()));
}

/// Result image: (column, row) per texel, so every warped value names where it came from.
Image Labelled() {
  Image img(kW, kH, 2);
  for (int y = 0; y < kH; ++y) {
    for (int x = 0; x < kW; ++x) {
      img.at(x, y, 0) = static_cast<float>(x);
      img.at(x, y, 1) = static_cast<float>(y);
    }
  }
  return img;
}

Image Filled(int channels, float value) {
  Image img(kW, kH, channels);
  for (float& p : img.pixels) p = value;
  return img;
}

struct WallWarp {
  Image result = Labelled();
  Image live = Filled(2, -1.0f);
  Image wall_depth = Filled(1, static_cast<float>(kNear / kWall));  // reversed-Z device depth of the wall
  WarpOutput out;
};

/// Warp a result depicted by a camera at the origin (yaw) to a camera moved by (dx, dy, dz); both see the wall.
void WarpWall(WallWarp* w, double dx, double dy, double dz, double yaw_degrees) {
  WarpInputs in;
  in.result = &w->result;
  in.src_depth = &w->wall_depth;
  in.live = &w->live;
  in.dst_depth = &w->wall_depth;
  in.view_proj_src = CoreViewProj(0.0, 0.0, 0.0, yaw_degrees);
  in.view_proj_dst = CoreViewProj(dx, dy, dz, yaw_degrees);
  in.depth_test.space = DepthTest::Space::kLinearRelative;
  in.depth_test.tolerance = 0.01;
  in.depth_test.linearizer = *DepthLinearizer::FromProjection(ToCore(UeProjection()));
  in.sampling = Sampling::kNearest;
  w->out = WarpImage(in);
}

TEST(UnrealMatrices, TransposedFMatrixProjectsLikeUnreal) {
  const UeMatrix ue = UeMultiply(UeView(100.0, -40.0, 30.0, 0.0), UeProjection());
  const Mat4 core = ToCore(ue);
  for (const std::array<double, 3>& p : {std::array<double, 3>{900.0, 0.0, 30.0}, std::array<double, 3>{500.0, 60.0, -90.0},
                                         std::array<double, 3>{2100.0, -700.0, 400.0}}) {
    const std::array<double, 3> expected = UeProject(ue, p[0], p[1], p[2]);
    const Vec4 clip = Transform(core, Vec4{p[0], p[1], p[2], 1.0});
    EXPECT_NEAR(clip.x / clip.w, expected[0], 1e-12);
    EXPECT_NEAR(clip.y / clip.w, expected[1], 1e-12);
    EXPECT_NEAR(clip.z / clip.w, expected[2], 1e-12);
  }
  // Without the transpose the same values are a different (wrong) transform: this test can fail.
  std::array<double, 16> values{};
  for (size_t r = 0; r < 4; ++r) {
    for (size_t c = 0; c < 4; ++c) values[r * 4 + c] = ue[r][c];
  }
  const Vec4 wrong = Transform(Mat4::FromRowMajor(values), Vec4{900.0, 0.0, 30.0, 1.0});
  const std::array<double, 3> expected = UeProject(ue, 900.0, 0.0, 30.0);
  EXPECT_GT(std::fabs(wrong.y / wrong.w - expected[1]), 1e-3);
}

TEST(UnrealMatrices, AxesDepthAndRowOrderOfTheWorkedExample) {
  const Mat4 core = CoreViewProj(0.0, 0.0, 0.0);
  // Straight ahead (world +X) at 800: the view's centre, device depth near / 800 (reversed Z).
  const Vec4 ahead = Transform(core, Vec4{kWall, 0.0, 0.0, 1.0});
  EXPECT_NEAR(ahead.x / ahead.w, 0.0, 1e-12);
  EXPECT_NEAR(ahead.y / ahead.w, 0.0, 1e-12);
  EXPECT_NEAR(ahead.z / ahead.w, kNear / kWall, 1e-12);
  // World +Y is screen right (ndc x = +1 at 45 degrees), world +Z is screen up (ndc y > 0, so uv.v < 0.5: top rows).
  const Vec4 right = Transform(core, Vec4{kWall, kWall, 0.0, 1.0});
  EXPECT_NEAR(right.x / right.w, 1.0, 1e-12);
  const Vec4 up = Transform(core, Vec4{kWall, 0.0, 300.0, 1.0});
  EXPECT_NEAR(up.y / up.w, 300.0 / kWall * kW / kH, 1e-12);
  EXPECT_LT((1.0 - up.y / up.w) / 2.0, 0.5);
  // Nearer is larger in reversed Z; the linearizer turns the device depth back into the distance.
  const Vec4 nearer = Transform(core, Vec4{400.0, 0.0, 0.0, 1.0});
  EXPECT_GT(nearer.z / nearer.w, ahead.z / ahead.w);
  const std::optional<DepthLinearizer> lin = DepthLinearizer::FromProjection(ToCore(UeProjection()));
  ASSERT_TRUE(lin.has_value());
  EXPECT_EQ(lin->p22, 0.0);
  EXPECT_EQ(lin->p23, kNear);
  EXPECT_EQ(lin->p32, 1.0);
  EXPECT_NEAR(lin->ViewDepth(kNear / kWall), kWall, 1e-9);
}

TEST(UnrealMatrices, CameraMovedRightShiftsTheResultOnePixelLeft) {
  WallWarp w;
  WarpWall(&w, 0.0, 25.0, 0.0, 0.0);  // world +Y: the camera's right
  ASSERT_TRUE(w.out.ok) << w.out.error;
  for (int y = 0; y < kH; ++y) {
    for (int x = 0; x < kW; ++x) {
      if (x == kW - 1) {
        EXPECT_EQ(w.out.holes[static_cast<size_t>(y * kW + x)], HoleReason::kOutside) << x << "," << y;
        continue;
      }
      ASSERT_EQ(w.out.holes[static_cast<size_t>(y * kW + x)], HoleReason::kNone) << x << "," << y;
      EXPECT_EQ(w.out.image.at(x, y, 0), static_cast<float>(x + 1)) << x << "," << y;
      EXPECT_EQ(w.out.image.at(x, y, 1), static_cast<float>(y)) << x << "," << y;
    }
  }
  EXPECT_EQ(w.out.hole_count, static_cast<size_t>(kH));
}

TEST(UnrealMatrices, CameraMovedUpShiftsTheResultOneRowDown) {
  WallWarp w;
  WarpWall(&w, 0.0, 0.0, 25.0, 0.0);  // world +Z: up
  ASSERT_TRUE(w.out.ok) << w.out.error;
  for (int y = 0; y < kH; ++y) {
    for (int x = 0; x < kW; ++x) {
      if (y == 0) {
        EXPECT_EQ(w.out.holes[static_cast<size_t>(y * kW + x)], HoleReason::kOutside) << x << "," << y;
        continue;
      }
      ASSERT_EQ(w.out.holes[static_cast<size_t>(y * kW + x)], HoleReason::kNone) << x << "," << y;
      EXPECT_EQ(w.out.image.at(x, y, 0), static_cast<float>(x)) << x << "," << y;
      EXPECT_EQ(w.out.image.at(x, y, 1), static_cast<float>(y - 1)) << x << "," << y;
    }
  }
}

TEST(UnrealMatrices, YawedCameraMovedToItsRightShiftsTheResultOnePixelLeft) {
  // Yaw 90 degrees: the camera looks down world +Y and its right is world -X; the wall stands at Y = 800.
  WallWarp w;
  WarpWall(&w, -25.0, 0.0, 0.0, 90.0);
  ASSERT_TRUE(w.out.ok) << w.out.error;
  EXPECT_EQ(w.out.hole_count, static_cast<size_t>(kH));
  for (int y = 0; y < kH; ++y) {
    for (int x = 0; x + 1 < kW; ++x) {
      ASSERT_EQ(w.out.holes[static_cast<size_t>(y * kW + x)], HoleReason::kNone) << x << "," << y;
      EXPECT_EQ(w.out.image.at(x, y, 0), static_cast<float>(x + 1)) << x << "," << y;
    }
  }
}

}  // namespace
}  // namespace sdbridge
