// Reprojection math (see sdbridge/reprojection.h for the contract the engine shaders mirror).
#include "sdbridge/reprojection.h"

#include <cmath>

namespace sdbridge {

Mat4 Mat4::Identity() {
  Mat4 out;
  for (int i = 0; i < 4; ++i) out.at(i, i) = 1.0;
  return out;
}

Mat4 Mat4::FromRowMajor(const std::array<double, 16>& values) {
  Mat4 out;
  out.m = values;
  return out;
}

Mat4 Mat4::Transposed() const {
  Mat4 out;
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 4; ++c) out.at(r, c) = at(c, r);
  }
  return out;
}

Mat4 Multiply(const Mat4& a, const Mat4& b) {
  Mat4 out;
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 4; ++c) {
      double sum = 0.0;
      for (int k = 0; k < 4; ++k) sum += a.at(r, k) * b.at(k, c);
      out.at(r, c) = sum;
    }
  }
  return out;
}

Vec4 Transform(const Mat4& matrix, const Vec4& v) {
  const double in[4] = {v.x, v.y, v.z, v.w};
  double out[4] = {0.0, 0.0, 0.0, 0.0};
  for (int r = 0; r < 4; ++r) {
    for (int k = 0; k < 4; ++k) out[r] += matrix.at(r, k) * in[k];
  }
  return Vec4{out[0], out[1], out[2], out[3]};
}

std::optional<Mat4> Inverse(const Mat4& matrix) {
  // Gauss-Jordan elimination with partial pivoting on [matrix | identity].
  Mat4 a = matrix;
  Mat4 inv = Mat4::Identity();
  for (int col = 0; col < 4; ++col) {
    int pivot = col;
    for (int r = col + 1; r < 4; ++r) {
      if (std::fabs(a.at(r, col)) > std::fabs(a.at(pivot, col))) pivot = r;
    }
    const double p = a.at(pivot, col);
    if (!(std::fabs(p) > 1e-300)) return std::nullopt;  // also catches NaN
    if (pivot != col) {
      for (int c = 0; c < 4; ++c) {
        std::swap(a.at(pivot, c), a.at(col, c));
        std::swap(inv.at(pivot, c), inv.at(col, c));
      }
    }
    for (int c = 0; c < 4; ++c) {
      a.at(col, c) /= p;
      inv.at(col, c) /= p;
    }
    for (int r = 0; r < 4; ++r) {
      if (r == col) continue;
      const double f = a.at(r, col);
      if (f == 0.0) continue;
      for (int c = 0; c < 4; ++c) {
        a.at(r, c) -= f * a.at(col, c);
        inv.at(r, c) -= f * inv.at(col, c);
      }
    }
  }
  for (double value : inv.m) {
    if (!std::isfinite(value)) return std::nullopt;
  }
  return inv;
}

std::optional<Mat4> ReprojectionMatrix(const Mat4& view_proj_src, const Mat4& view_proj_dst) {
  const std::optional<Mat4> inv_dst = Inverse(view_proj_dst);
  if (!inv_dst) return std::nullopt;
  return Multiply(view_proj_src, *inv_dst);
}

std::optional<DepthLinearizer> DepthLinearizer::FromProjection(const Mat4& projection) {
  DepthLinearizer out;
  out.p22 = projection.at(2, 2);
  out.p23 = projection.at(2, 3);
  out.p32 = projection.at(3, 2);
  if (out.p32 == 0.0 || out.p23 == 0.0) return std::nullopt;  // orthographic (or degenerate)
  return out;
}

double DepthLinearizer::ViewDepth(double ndc_z) const {
  const double denom = ndc_z - p22 / p32;
  if (denom == 0.0) return INFINITY;  // the far plane of an infinite projection
  return p23 / denom;
}

bool DepthTest::Matches(double expected_ndc_z, double stored_ndc_z) const {
  switch (space) {
    case Space::kOff:
      return true;
    case Space::kNdcAbsolute:
      return std::fabs(expected_ndc_z - stored_ndc_z) <= tolerance;
    case Space::kLinearRelative:
    default: {
      const double a = linearizer.ViewDepth(expected_ndc_z);
      const double b = linearizer.ViewDepth(stored_ndc_z);
      if (std::isinf(a) && std::isinf(b)) return true;  // both at an infinite far plane (sky)
      if (!(a > 0.0) || !(b > 0.0) || std::isinf(a) || std::isinf(b)) return false;
      return std::fabs(a - b) <= tolerance * std::fmin(a, b);
    }
  }
}

SourceLookup LookupSource(const Mat4& reprojection, double u, double v, double dst_depth) {
  SourceLookup out;
  const Vec4 ndc{2.0 * u - 1.0, 1.0 - 2.0 * v, dst_depth, 1.0};
  const Vec4 p = Transform(reprojection, ndc);
  if (!(p.w > 0.0)) {
    out.hole = HoleReason::kBehindCamera;
    return out;
  }
  const double x = p.x / p.w;
  const double y = p.y / p.w;
  out.ndc_z = p.z / p.w;
  out.u = (x + 1.0) * 0.5;
  out.v = (1.0 - y) * 0.5;
  if (!(out.u >= 0.0 && out.u <= 1.0 && out.v >= 0.0 && out.v <= 1.0)) out.hole = HoleReason::kOutside;
  return out;
}

HoleReason ClassifyPixel(const SourceLookup& lookup, double src_stored_depth, const DepthTest& test) {
  if (lookup.hole != HoleReason::kNone) return lookup.hole;
  return test.Matches(lookup.ndc_z, src_stored_depth) ? HoleReason::kNone : HoleReason::kDisoccluded;
}

Image::Image(int w, int h, int c)
    : width(w), height(h), channels(c),
      pixels(static_cast<size_t>(w > 0 ? w : 0) * static_cast<size_t>(h > 0 ? h : 0) *
             static_cast<size_t>(c > 0 ? c : 0), 0.0f) {}

namespace {

int ClampIndex(double value, int size) {
  if (!(value >= 0.0)) return 0;  // also NaN
  if (value >= static_cast<double>(size - 1)) return size - 1;
  return static_cast<int>(value);
}

}  // namespace

void SampleImage(const Image& image, double u, double v, Sampling sampling, float* out) {
  if (sampling == Sampling::kNearest) {
    const int x = ClampIndex(std::floor(u * image.width), image.width);
    const int y = ClampIndex(std::floor(v * image.height), image.height);
    for (int c = 0; c < image.channels; ++c) out[c] = image.at(x, y, c);
    return;
  }
  const double fx = u * image.width - 0.5;
  const double fy = v * image.height - 0.5;
  const double x0f = std::floor(fx);
  const double y0f = std::floor(fy);
  const double tx = fx - x0f;
  const double ty = fy - y0f;
  const int x0 = ClampIndex(x0f, image.width);
  const int x1 = ClampIndex(x0f + 1.0, image.width);
  const int y0 = ClampIndex(y0f, image.height);
  const int y1 = ClampIndex(y0f + 1.0, image.height);
  for (int c = 0; c < image.channels; ++c) {
    const double top = image.at(x0, y0, c) * (1.0 - tx) + image.at(x1, y0, c) * tx;
    const double bottom = image.at(x0, y1, c) * (1.0 - tx) + image.at(x1, y1, c) * tx;
    out[c] = static_cast<float>(top * (1.0 - ty) + bottom * ty);
  }
}

namespace {

const char* CheckInputs(const WarpInputs& in) {
  if (in.result == nullptr || in.src_depth == nullptr || in.live == nullptr || in.dst_depth == nullptr) {
    return "WarpInputs: result, src_depth, live and dst_depth must all be set";
  }
  if (in.result->width <= 0 || in.result->height <= 0 || in.src_depth->width <= 0 || in.src_depth->height <= 0 ||
      in.live->width <= 0 || in.live->height <= 0) {
    return "WarpInputs: every image needs width > 0 and height > 0";
  }
  if (in.src_depth->channels != 1 || in.dst_depth->channels != 1) {
    return "WarpInputs: src_depth and dst_depth need exactly 1 channel";
  }
  if (in.dst_depth->width != in.live->width || in.dst_depth->height != in.live->height) {
    return "WarpInputs: dst_depth must have the live frame's size";
  }
  if (in.result->channels != in.live->channels || in.live->channels <= 0 || in.live->channels > 4) {
    return "WarpInputs: result and live need the same channel count, 1 to 4";
  }
  return nullptr;
}

}  // namespace

WarpOutput WarpImage(const WarpInputs& in) {
  WarpOutput out;
  if (const char* error = CheckInputs(in)) {
    out.error = error;
    return out;
  }
  const std::optional<Mat4> m = ReprojectionMatrix(in.view_proj_src, in.view_proj_dst);
  if (!m) {
    out.error = "WarpInputs: view_proj_dst is singular (no inverse); pass the current camera's view-projection";
    return out;
  }
  const Image& live = *in.live;
  const int channels = live.channels;
  out.image = Image(live.width, live.height, channels);
  out.holes.assign(static_cast<size_t>(live.width) * static_cast<size_t>(live.height), HoleReason::kNone);
  const double opacity = in.opacity < 0.0f ? 0.0 : in.opacity > 1.0f ? 1.0 : static_cast<double>(in.opacity);
  float warped[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  float stored_depth = 0.0f;
  for (int y = 0; y < live.height; ++y) {
    for (int x = 0; x < live.width; ++x) {
      const double u = (x + 0.5) / live.width;
      const double v = (y + 0.5) / live.height;
      const SourceLookup lookup = LookupSource(*m, u, v, in.dst_depth->at(x, y, 0));
      HoleReason reason = lookup.hole;
      if (reason == HoleReason::kNone) {
        SampleImage(*in.src_depth, lookup.u, lookup.v, Sampling::kNearest, &stored_depth);
        reason = ClassifyPixel(lookup, stored_depth, in.depth_test);
      }
      const size_t index = static_cast<size_t>(y) * static_cast<size_t>(live.width) + static_cast<size_t>(x);
      out.holes[index] = reason;
      if (reason != HoleReason::kNone) {
        ++out.hole_count;
        for (int c = 0; c < channels; ++c) out.image.at(x, y, c) = live.at(x, y, c);
        continue;
      }
      SampleImage(*in.result, lookup.u, lookup.v, in.sampling, warped);
      for (int c = 0; c < channels; ++c) {
        // live * (1 - opacity) + warped * opacity: exactly the warped value at opacity 1
        out.image.at(x, y, c) = static_cast<float>(live.at(x, y, c) * (1.0 - opacity) + warped[c] * opacity);
      }
    }
  }
  out.ok = true;
  return out;
}

CameraHistory::CameraHistory(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

void CameraHistory::Record(uint64_t frame_id, const CameraFrame& camera) {
  for (auto& entry : entries_) {
    if (entry.first == frame_id) {
      entry.second = camera;
      return;
    }
  }
  if (entries_.size() >= capacity_) entries_.pop_front();
  entries_.emplace_back(frame_id, camera);
}

std::optional<CameraFrame> CameraHistory::Find(uint64_t frame_id) const {
  for (const auto& entry : entries_) {
    if (entry.first == frame_id) return entry.second;
  }
  return std::nullopt;
}

}  // namespace sdbridge
