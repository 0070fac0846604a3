// Reprojection of a stylized result to the current camera.
//
// A Result depicts the colour frame whose id it carries in ResultHeader::source_frame_id (the server
// computes it as the input frame `latency_frames` pipeline calls before the echoed frame_id; with one
// denoising step both ids are equal). By the time it arrives the camera has moved. The client keeps, per
// sent frame id, the camera's view-projection matrix (CameraHistory below) and the engine layer keeps that
// frame's depth texture in a small ring; this file holds the math both engine shaders mirror.
//
// Conventions (shared with the C# core and both engine layers):
// - Matrices are 4x4, column-vector convention (clip = M * [x y z 1]^T), stored row-major: m[row * 4 + col].
//   Unreal's FMatrix is row-vector convention (v * M): transpose it (Mat4::Transposed) before use.
// - M = ViewProj_src * inverse(ViewProj_dst) maps a current (dst) NDC point to the depicted frame's (src)
//   clip space.
// - Backward warp per destination pixel centre (u, v) in [0, 1], v top-down:
//   ndc = (2u - 1, 1 - 2v, d_dst(u, v), 1) where d_dst is the CURRENT frame's device depth in the convention
//   of the projection matrices (reversed-Z or not, [0, 1] or [-1, 1] is carried by the matrices);
//   p = M * ndc; p.w <= 0 -> hole; src ndc = p.xyz / p.w; src uv = ((x + 1) / 2, (1 - y) / 2);
//   hole if src uv is outside [0, 1] or if the depicted frame's own depth at src uv differs from src ndc z
//   by more than the tolerance (disocclusion); otherwise sample the result at src uv.
//   Holes take the live frame. Final = lerp(live, warped, opacity).
// - Depth comparison (DepthTest): in linear view depth with a relative tolerance (default 1%), using the
//   depicted frame's projection terms (DepthLinearizer), or in NDC with an absolute tolerance (for
//   orthographic projections, where linear depth is affine in NDC z).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

namespace sdbridge {

/// A 4-component vector (homogeneous point).
struct Vec4 {
  double x = 0.0;
  double y = 0.0;
  double z = 0.0;
  double w = 0.0;
};

/// 4x4 matrix, column-vector convention, stored row-major (m[row * 4 + col]).
struct Mat4 {
  std::array<double, 16> m{};

  static Mat4 Identity();
  /// From 16 values in row-major order.
  static Mat4 FromRowMajor(const std::array<double, 16>& values);
  double at(int row, int col) const { return m[static_cast<size_t>(row * 4 + col)]; }
  double& at(int row, int col) { return m[static_cast<size_t>(row * 4 + col)]; }
  /// The transpose (turns a row-vector convention matrix such as Unreal's FMatrix into this convention).
  Mat4 Transposed() const;
};

/// a * b (apply b first, then a).
Mat4 Multiply(const Mat4& a, const Mat4& b);
/// M * v.
Vec4 Transform(const Mat4& matrix, const Vec4& v);
/// The inverse, or nullopt when |det| <= 1e-300 or the result is not finite (a singular matrix).
std::optional<Mat4> Inverse(const Mat4& matrix);
/// ViewProj_src * inverse(ViewProj_dst); nullopt when ViewProj_dst is singular.
std::optional<Mat4> ReprojectionMatrix(const Mat4& view_proj_src, const Mat4& view_proj_dst);

/// Turns a perspective projection's NDC depth into linear view depth (clip w), for any depth convention:
/// with z_clip = p22 * z + p23 and w_clip = p32 * z, ndc_z = p22 / p32 + p23 / w, so w = p23 / (ndc_z - p22 / p32).
/// Covers standard and reversed-Z, finite and infinite far, [0, 1] and [-1, 1] NDC.
struct DepthLinearizer {
  double p22 = 0.0;  // projection row 2, column 2 (column-vector convention)
  double p23 = 0.0;  // row 2, column 3
  double p32 = 1.0;  // row 3, column 2 (+1 looking down +z, -1 looking down -z)

  /// Terms of a perspective projection matrix; nullopt for an orthographic one (p32 == 0 or p23 == 0).
  static std::optional<DepthLinearizer> FromProjection(const Mat4& projection);
  /// Linear view depth (positive in front of the camera) of an NDC depth; <= 0 or inf when out of range.
  double ViewDepth(double ndc_z) const;
};

/// How a reprojected depth is compared with the depicted frame's own depth.
struct DepthTest {
  enum class Space {
    kLinearRelative,  // |a - b| <= tolerance * min(a, b) in linear view depth (needs linearizer)
    kNdcAbsolute,     // |a - b| <= tolerance in NDC depth
    kOff,             // no disocclusion test
  };
  Space space = Space::kLinearRelative;
  double tolerance = 0.01;
  DepthLinearizer linearizer;  // the depicted (src) frame's projection terms (kLinearRelative only)

  /// True when the two NDC depths are the same surface under this test.
  bool Matches(double expected_ndc_z, double stored_ndc_z) const;
};

/// Why a destination pixel is a hole (takes the live frame).
enum class HoleReason : uint8_t {
  kNone = 0,
  kBehindCamera = 1,  // p.w <= 0: the point is behind the depicted frame's camera
  kOutside = 2,       // src uv outside [0, 1]
  kDisoccluded = 3,   // the depicted frame saw another surface there
};

/// Where a destination pixel comes from in the depicted frame (step 1 of the per-pixel warp).
struct SourceLookup {
  HoleReason hole = HoleReason::kNone;  // kNone, kBehindCamera or kOutside
  double u = 0.0;                       // src uv (valid when hole == kNone)
  double v = 0.0;
  double ndc_z = 0.0;                   // expected src NDC depth of this point
};

/// Step 1 of the per-pixel warp: dst pixel centre (u, v) with current device depth dst_depth -> src uv.
/// `reprojection` is ReprojectionMatrix(view_proj_src, view_proj_dst). What the engine shaders mirror.
SourceLookup LookupSource(const Mat4& reprojection, double u, double v, double dst_depth);

/// Step 2: the disocclusion test with the depicted frame's depth sampled at lookup.u/v. Returns the final
/// reason (kNone: sample the result at lookup.u/v).
HoleReason ClassifyPixel(const SourceLookup& lookup, double src_stored_depth, const DepthTest& test);

/// A CPU image of float channels, row 0 at the top (the warp's v convention).
struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<float> pixels;  // width * height * channels, row-major, top row first

  Image() = default;
  Image(int w, int h, int c);
  float at(int x, int y, int c) const {
    return pixels[(static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)) *
                      static_cast<size_t>(channels) + static_cast<size_t>(c)];
  }
  float& at(int x, int y, int c) {
    return pixels[(static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)) *
                      static_cast<size_t>(channels) + static_cast<size_t>(c)];
  }
};

enum class Sampling { kNearest, kBilinear };

/// Nearest: texel floor(u * w), floor(v * h), clamped. Bilinear: texel centres at (i + 0.5) / w, clamped
/// to the edge. Writes image.channels values to out.
void SampleImage(const Image& image, double u, double v, Sampling sampling, float* out);

/// Everything the CPU reference warp needs. Images may have different sizes (sampling is in uv); the
/// output has the live frame's size and dst_depth must have it too.
struct WarpInputs {
  const Image* result = nullptr;     // the stylized frame (depicts the src frame)
  const Image* src_depth = nullptr;  // device depth of the depicted frame, 1 channel
  const Image* live = nullptr;       // the current frame, same channel count as result
  const Image* dst_depth = nullptr;  // device depth of the current frame, 1 channel, live's size
  Mat4 view_proj_src = Mat4::Identity();
  Mat4 view_proj_dst = Mat4::Identity();
  DepthTest depth_test;
  Sampling sampling = Sampling::kNearest;  // colour sampling; depth is always sampled nearest
  float opacity = 1.0f;                    // 0: live frame only, 1: warped result where it is valid
};

struct WarpOutput {
  Image image;                     // lerp(live, warped, opacity); holes take the live frame
  std::vector<HoleReason> holes;   // per destination pixel, row-major
  size_t hole_count = 0;
  bool ok = false;                 // false: bad inputs (see error)
  const char* error = "";
};

/// CPU reference warp over whole images (for tests and tools; the engines run the same math on the GPU).
WarpOutput WarpImage(const WarpInputs& inputs);

/// One sent frame's camera: what the reprojection needs to warp a result depicting that frame.
struct CameraFrame {
  Mat4 view_proj = Mat4::Identity();
  DepthLinearizer linearizer;
};

/// Bounded history: frame id -> camera, oldest dropped first. Not thread-safe (use it from one thread,
/// e.g. the engine's game thread, which records a frame when it submits it and looks one up per result).
class CameraHistory {
 public:
  /// capacity >= 1 (0 is taken as 1).
  explicit CameraHistory(size_t capacity);
  /// Record (or replace) the camera of frame_id; drops the oldest entry when full.
  void Record(uint64_t frame_id, const CameraFrame& camera);
  /// The camera of frame_id, or nullopt when it was never recorded or was dropped.
  std::optional<CameraFrame> Find(uint64_t frame_id) const;
  size_t size() const { return entries_.size(); }
  size_t capacity() const { return capacity_; }
  void Clear() { entries_.clear(); }

 private:
  size_t capacity_;
  std::deque<std::pair<uint64_t, CameraFrame>> entries_;  // oldest first
};

}  // namespace sdbridge
