// How the engine's view is scaled into the server's frame size, and back again when the
// stylized result is drawn over the view. Pure math shared by the capture pass (view -> capture target) and
// the composite / reprojection pass (view uv -> result uv); the Unreal shaders mirror MapViewToTarget and
// MapTargetToView (Shaders/SDBridgeCommon.ush).
//
// Policies (all keep the whole target filled with defined pixels):
// - kFit (default): the whole view, aspect kept; the target gets black bars (letterbox / pillarbox) where
//   the aspects differ. Nothing of the view is lost; part of the server's pixels carry no picture.
// - kCrop: the centre of the view, aspect kept, fills the whole target; the view's edges are not sent (the
//   composite shows the live frame there).
// - kStretch: the whole view into the whole target; the picture is distorted when the aspects differ.
// uv coordinates are in [0, 1], v top-down, for both images.
#pragma once

#include <cstdint>
#include <optional>

#include "sdbridge/status.h"

namespace sdbridge {

enum class CaptureFit : uint8_t {
  kFit = 0,
  kCrop = 1,
  kStretch = 2,
};

/// "Fit", "Crop" or "Stretch" ("Unknown" for other values).
const char* CaptureFitName(CaptureFit fit);

/// An axis-aligned rectangle in uv (min inclusive, max exclusive).
struct UvRect {
  double min_u = 0.0;
  double min_v = 0.0;
  double max_u = 1.0;
  double max_v = 1.0;

  double width() const { return max_u - min_u; }
  double height() const { return max_v - min_v; }
  bool Contains(double u, double v) const { return u >= min_u && u < max_u && v >= min_v && v < max_v; }
};

/// A rectangle of whole pixels.
struct PixelRect {
  uint32_t x = 0;
  uint32_t y = 0;
  uint32_t width = 0;
  uint32_t height = 0;
};

struct UvPoint {
  double u = 0.0;
  double v = 0.0;
};

/// The part of the view that is captured (`source`, view uv) and where it lands in the capture target
/// (`dest`, target uv, always whole target pixels: `dest_pixels`). Outside `dest` the target is black.
struct CaptureMapping {
  CaptureFit fit = CaptureFit::kFit;
  UvRect source;
  UvRect dest;
  PixelRect dest_pixels;
};

/// The mapping for a view of view_width x view_height pixels captured into target_width x target_height.
/// kInvalidArgument (naming the value) when a size is 0 or above 65536, or fit is not a known policy.
/// kFit rounds the letterboxed picture to whole target pixels, centred (an odd remainder puts the extra
/// bar pixel at the right / bottom); kCrop takes the centred source rectangle of the target's aspect.
Status ComputeCaptureMapping(CaptureFit fit, uint32_t view_width, uint32_t view_height, uint32_t target_width,
                             uint32_t target_height, CaptureMapping* out);

/// View uv -> target uv; nullopt where that part of the view is not in the target (kCrop's edges).
std::optional<UvPoint> MapViewToTarget(const CaptureMapping& mapping, double u, double v);

/// Target uv -> view uv; nullopt in the black bars (outside `dest`).
std::optional<UvPoint> MapTargetToView(const CaptureMapping& mapping, double u, double v);

}  // namespace sdbridge
