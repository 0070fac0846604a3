// The OpenPose control image renderer (include/sdbridge/openpose.h): exact integer rasterisation shared with the
// Python reference renderer and the C# core.
#include "sdbridge/openpose.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace sdbridge {
namespace {

constexpr std::array<std::array<int, 2>, kOpenPoseLimbCount> kPoseLimbs = {{
    {1, 2}, {1, 5}, {2, 3}, {3, 4}, {5, 6}, {6, 7}, {1, 8}, {8, 9}, {9, 10}, {1, 11}, {11, 12}, {12, 13},
    {1, 0}, {0, 14}, {14, 16}, {0, 15}, {15, 17},
}};

constexpr std::array<std::array<uint8_t, 3>, kOpenPoseKeypointCount> kPoseColors = {{
    {255, 0, 0}, {255, 85, 0}, {255, 170, 0}, {255, 255, 0}, {170, 255, 0}, {85, 255, 0}, {0, 255, 0},
    {0, 255, 85}, {0, 255, 170}, {0, 255, 255}, {0, 170, 255}, {0, 85, 255}, {0, 0, 255}, {85, 0, 255},
    {170, 0, 255}, {255, 0, 255}, {255, 0, 170}, {255, 0, 85},
}};

struct PosePixel {
  int64_t x = 0;
  int64_t y = 0;
  bool present = false;
};

Status CheckPoseSize(uint32_t width, uint32_t height) {
  if (width < 1 || width > kOpenPoseMaxSize || height < 1 || height > kOpenPoseMaxSize) {
    return Status(StatusCode::kInvalidArgument,
                  "OpenPose image " + std::to_string(width) + " x " + std::to_string(height) + " is outside 1.." +
                      std::to_string(kOpenPoseMaxSize) + " each way; draw the pose smaller (the ControlNet resizes it)");
  }
  return Status::Ok();
}

/// floor(v + 0.5); false when missing, non-finite or more than half the image outside.
PosePixel SnapPosePoint(const OpenPosePoint& p, uint32_t width, uint32_t height) {
  PosePixel out;
  if (!p.present || !std::isfinite(p.x) || !std::isfinite(p.y)) return out;
  const double fx = std::floor(static_cast<double>(p.x) + 0.5);
  const double fy = std::floor(static_cast<double>(p.y) + 0.5);
  const double w = width, h = height, hw = width / 2U, hh = height / 2U;
  if (fx < -hw || fx > w + hw || fy < -hh || fy > h + hh) return out;
  out.x = static_cast<int64_t>(fx);
  out.y = static_cast<int64_t>(fy);
  out.present = true;
  return out;
}

void PutPosePixel(std::vector<uint8_t>* image, uint32_t width, int64_t x, int64_t y, const std::array<uint8_t, 3>& rgb) {
  const size_t i = (static_cast<size_t>(y) * width + static_cast<size_t>(x)) * 4U;
  (*image)[i] = rgb[0];
  (*image)[i + 1] = rgb[1];
  (*image)[i + 2] = rgb[2];
  (*image)[i + 3] = 255;
}

void FillPoseLimb(std::vector<uint8_t>* image, uint32_t width, uint32_t height, const PosePixel& p, const PosePixel& q,
              const std::array<uint8_t, 3>& rgb) {
  const int64_t vx = q.x - p.x, vy = q.y - p.y;
  const int64_t length2 = vx * vx + vy * vy;
  if (length2 == 0) return;
  const int64_t reach = static_cast<int64_t>(std::sqrt(static_cast<double>(length2))) / 2 + kOpenPoseStickWidth + 2;
  const int64_t cx2 = p.x + q.x, cy2 = p.y + q.y;  // twice the centre
  const int64_t x0 = (std::max)(int64_t{0}, cx2 / 2 - reach);
  const int64_t x1 = (std::min)(static_cast<int64_t>(width) - 1, cx2 / 2 + reach);
  const int64_t y0 = (std::max)(int64_t{0}, cy2 / 2 - reach);
  const int64_t y1 = (std::min)(static_cast<int64_t>(height) - 1, cy2 / 2 + reach);
  const int64_t b2 = 4 * kOpenPoseStickWidth * kOpenPoseStickWidth;
  for (int64_t y = y0; y <= y1; ++y) {
    for (int64_t x = x0; x <= x1; ++x) {
      const int64_t dx2 = 2 * x - cx2, dy2 = 2 * y - cy2;
      const int64_t along2 = dx2 * vx + dy2 * vy, across2 = dy2 * vx - dx2 * vy;
      const int64_t across_sq = across2 * across2;
      if (across_sq > b2 * length2) continue;  // first: keeps the next products inside 64 bits
      if (b2 * along2 * along2 + length2 * across_sq > b2 * length2 * length2) continue;
      PutPosePixel(image, width, x, y, rgb);
    }
  }
}

void FillPoseDisc(std::vector<uint8_t>* image, uint32_t width, uint32_t height, const PosePixel& c,
              const std::array<uint8_t, 3>& rgb) {
  const int64_t r = kOpenPosePointRadius;
  const int64_t x0 = (std::max)(int64_t{0}, c.x - r), x1 = (std::min)(static_cast<int64_t>(width) - 1, c.x + r);
  const int64_t y0 = (std::max)(int64_t{0}, c.y - r), y1 = (std::min)(static_cast<int64_t>(height) - 1, c.y + r);
  for (int64_t y = y0; y <= y1; ++y) {
    for (int64_t x = x0; x <= x1; ++x) {
      if ((x - c.x) * (x - c.x) + (y - c.y) * (y - c.y) <= r * r) PutPosePixel(image, width, x, y, rgb);
    }
  }
}

}  // namespace

std::array<int, 2> OpenPoseLimb(int limb) { return kPoseLimbs.at(static_cast<size_t>(limb)); }
std::array<uint8_t, 3> OpenPoseColor(int keypoint) { return kPoseColors.at(static_cast<size_t>(keypoint)); }

Status ClearOpenPoseImage(uint32_t width, uint32_t height, std::vector<uint8_t>* image) {
  Status s = CheckPoseSize(width, height);
  if (!s.ok()) return s;
  image->assign(static_cast<size_t>(width) * height * 4U, 0);
  for (size_t i = 3; i < image->size(); i += 4) (*image)[i] = 255;
  return Status::Ok();
}

Status DrawOpenPose(const OpenPoseBody& body, uint32_t width, uint32_t height, std::vector<uint8_t>* image) {
  Status s = CheckPoseSize(width, height);
  if (!s.ok()) return s;
  if (image->size() != static_cast<size_t>(width) * height * 4U) {
    return Status(StatusCode::kInvalidArgument, "OpenPose image holds " + std::to_string(image->size()) +
                                                    " bytes; " + std::to_string(width) + " x " +
                                                    std::to_string(height) + " RGBA8 needs 4 bytes a pixel; "
                                                    "make it with ClearOpenPoseImage");
  }
  std::array<PosePixel, kOpenPoseKeypointCount> px;
  for (size_t k = 0; k < px.size(); ++k) px[k] = SnapPosePoint(body[k], width, height);
  for (size_t limb = 0; limb < kPoseLimbs.size(); ++limb) {
    const PosePixel& p = px[static_cast<size_t>(kPoseLimbs[limb][0])];
    const PosePixel& q = px[static_cast<size_t>(kPoseLimbs[limb][1])];
    if (!p.present || !q.present) continue;
    std::array<uint8_t, 3> dim{};
    for (size_t c = 0; c < 3; ++c) dim[c] = static_cast<uint8_t>(kPoseColors[limb][c] * 6 / 10);  // int(c * 0.6)
    FillPoseLimb(image, width, height, p, q, dim);
  }
  for (size_t k = 0; k < px.size(); ++k) {
    if (px[k].present) FillPoseDisc(image, width, height, px[k], kPoseColors[k]);
  }
  return Status::Ok();
}

Status RenderOpenPose(const OpenPoseBody& body, uint32_t width, uint32_t height, std::vector<uint8_t>* image) {
  Status s = ClearOpenPoseImage(width, height, image);
  return s.ok() ? DrawOpenPose(body, width, height, image) : s;
}

}  // namespace sdbridge
