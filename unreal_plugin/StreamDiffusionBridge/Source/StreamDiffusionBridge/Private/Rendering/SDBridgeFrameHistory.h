// What the composite needs to know about a frame the server depicts: per sent frame id, the camera
// (sdbridge::CameraHistory of the core: view-projection + depth linearizer), the Fit/Crop/Stretch mapping it
// was captured with, and a copy of its device depth (an RDG-external pooled texture). Captures queued in the
// readback ring wait here as "pending" until the ring hands them to the client, which assigns the frame id.
// Render thread only. NOT compiled here (no Unreal Engine on the build machines); UE 5.3-5.5 API:
// IPooledRenderTarget (RendererInterface.h).
#pragma once

#include "CoreMinimal.h"
#include "RendererInterface.h"
#include "sdbridge/capture_fit.h"
#include "sdbridge/reprojection.h"

/** One captured frame as the reprojection needs it. */
struct FSDBridgeDepictedFrame
{
	sdbridge::CameraFrame Camera;
	bool bPerspective = true;  // false: orthographic (the depth test compares NDC depth)
	sdbridge::CaptureMapping Mapping;
	TRefCountPtr<IPooledRenderTarget> Depth;  // null when reprojection was off when it was captured
};

class FSDBridgeFrameHistory
{
public:
	/** Capacity: frame ids kept (>= 2). A result older than that many sent frames is shown unreprojected. */
	explicit FSDBridgeFrameHistory(int32 Capacity);

	/** A capture was queued in the readback ring (same order as the ring's slots). */
	void AddPending(uint64 CaptureTimeUs, FSDBridgeDepictedFrame&& Frame);
	int32 NumPending() const { return Pending.Num(); }

	/**
	 * The ring freed its Freed oldest slots; the one captured at SubmittedCaptureTimeUs went to the client as
	 * SubmittedFrameId (0: none was submitted). Retires those pending captures and records the submitted one.
	 */
	void Retire(int32 Freed, uint64 SubmittedCaptureTimeUs, uint64 SubmittedFrameId);

	/** The depicted frame FrameId, if it is still kept. */
	const FSDBridgeDepictedFrame* Find(uint64 FrameId) const;

	void Reset();

private:
	static constexpr int32 MaxPending = 8;  // more than the ring's slots (2-4): a bound, never reached in order

	TArray<TPair<uint64, FSDBridgeDepictedFrame>> Pending;  // oldest first, keyed by capture time
	sdbridge::CameraHistory Cameras;                         // the core's bounded frame id -> camera history
	TMap<uint64, FSDBridgeDepictedFrame> Frames;             // the same frame ids as Cameras
};
