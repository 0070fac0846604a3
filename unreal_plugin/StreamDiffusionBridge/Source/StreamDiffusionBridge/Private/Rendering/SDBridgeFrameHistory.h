// What the composite needs to know about a frame the server depicts: per sent frame id, the camera (view-projection
// + depth linearizer), the Fit/Crop/Stretch mapping it was captured with, and a copy of its device depth (an
// RDG-external pooled texture). The bookkeeping - captures pending in the readback ring until the client assigns
// their frame id, a bounded history that drops the oldest - is sdbridge::DepictedFrames in the core
// (core/include/sdbridge/depicted_frames.h, tested by ctest); this file only names the engine payload.
// Render thread only. NOT compiled here (no Unreal Engine on the build machines); UE 5.3-5.5 API:
// IPooledRenderTarget (RendererInterface.h).
#pragma once

#include "CoreMinimal.h"
#include "RendererInterface.h"
#include "sdbridge/capture_fit.h"
#include "sdbridge/depicted_frames.h"
#include "sdbridge/reprojection.h"

/** The engine payload kept per captured frame (its camera is kept by the core's CameraHistory). */
struct FSDBridgeFrameExtras
{
	bool bPerspective = true;  // false: orthographic (the depth test compares NDC depth)
	sdbridge::CaptureMapping Mapping;
	TRefCountPtr<IPooledRenderTarget> Depth;  // null when reprojection was off when it was captured
};

using FSDBridgeFrameHistory = sdbridge::DepictedFrames<FSDBridgeFrameExtras>;

/** A view's camera as the core's reprojection wants it. */
struct FSDBridgeViewCamera
{
	sdbridge::CameraFrame Camera;
	bool bPerspective = true;
};
