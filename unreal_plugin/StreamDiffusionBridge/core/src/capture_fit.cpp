// Capture fit / crop / stretch rectangles (see capture_fit.h).
#include "sdbridge/capture_fit.h"

#include <cmath>
#include <string>

namespace sdbridge {
namespace {

constexpr uint32_t kMaxSide = 65536;

Status CheckSize(const char* name, uint32_t value) {
  if (value == 0 || value > kMaxSide) {
    return Status(StatusCode::kInvalidArgument,
                  std::string(name) + " is " + std::to_string(value) + "; it must be 1.." + std::to_string(kMaxSide) +
                      " pixels (pass the view's rectangle and the server's frame size)");
  }
  return Status::Ok();
}

uint32_t RoundToPixels(double value, uint32_t limit) {
  const double rounded = std::floor(value + 0.5);
  if (rounded < 1.0) {
    return 1;
  }
  return rounded > static_cast<double>(limit) ? limit : static_cast<uint32_t>(rounded);
}

}  // namespace

const char* CaptureFitName(CaptureFit fit) {
  switch (fit) {
    case CaptureFit::kFit: return "Fit";
    case CaptureFit::kCrop: return "Crop";
    case CaptureFit::kStretch: return "Stretch";
  }
  return "Unknown";
}

Status ComputeCaptureMapping(CaptureFit fit, uint32_t view_width, uint32_t view_height, uint32_t target_width,
                             uint32_t target_height, CaptureMapping* out) {
  for (const Status& s : {CheckSize("view_width", view_width), CheckSize("view_height", view_height),
                          CheckSize("target_width", target_width), CheckSize("target_height", target_height)}) {
    if (!s.ok()) {
      return s;
    }
  }
  const double vw = view_width;
  const double vh = view_height;
  const double tw = target_width;
  const double th = target_height;
  CaptureMapping m;
  m.fit = fit;
  m.dest_pixels = PixelRect{0, 0, target_width, target_height};
  switch (fit) {
    case CaptureFit::kStretch:
      break;
    case CaptureFit::kFit: {
      // The largest picture of the view's aspect inside the target, in whole pixels, centred.
      const double scale = std::fmin(tw / vw, th / vh);
      const uint32_t w = RoundToPixels(vw * scale, target_width);
      const uint32_t h = RoundToPixels(vh * scale, target_height);
      m.dest_pixels = PixelRect{(target_width - w) / 2, (target_height - h) / 2, w, h};
      m.dest = UvRect{m.dest_pixels.x / tw, m.dest_pixels.y / th, (m.dest_pixels.x + w) / tw,
                      (m.dest_pixels.y + h) / th};
      break;
    }
    case CaptureFit::kCrop: {
      // The largest rectangle of the target's aspect inside the view, centred (sub-pixel: it is sampled).
      const double scale = std::fmax(tw / vw, th / vh);
      const double su = (tw / scale) / vw;  // source width as a fraction of the view
      const double sv = (th / scale) / vh;
      m.source = UvRect{(1.0 - su) / 2.0, (1.0 - sv) / 2.0, (1.0 + su) / 2.0, (1.0 + sv) / 2.0};
      break;
    }
    default:
      return Status(StatusCode::kInvalidArgument,
                    "fit is " + std::to_string(static_cast<int>(fit)) + "; it must be Fit (0), Crop (1) or Stretch (2)");
  }
  *out = m;
  return Status::Ok();
}

std::optional<UvPoint> MapViewToTarget(const CaptureMapping& mapping, double u, double v) {
  if (!mapping.source.Contains(u, v)) {
    return std::nullopt;
  }
  const UvRect& s = mapping.source;
  const UvRect& d = mapping.dest;
  return UvPoint{d.min_u + (u - s.min_u) / s.width() * d.width(), d.min_v + (v - s.min_v) / s.height() * d.height()};
}

std::optional<UvPoint> MapTargetToView(const CaptureMapping& mapping, double u, double v) {
  if (!mapping.dest.Contains(u, v)) {
    return std::nullopt;
  }
  const UvRect& s = mapping.source;
  const UvRect& d = mapping.dest;
  return UvPoint{s.min_u + (u - d.min_u) / d.width() * s.width(), s.min_v + (v - d.min_v) / d.height() * s.height()};
}

}  // namespace sdbridge
