// A ring of FRHIGPUTextureReadback: GPU -> CPU copies of the capture target that complete
// asynchronously, so neither the game thread nor the render thread ever waits for the GPU. A slot may also carry
// the engine planes drawn with that capture (one readback each, Rendering/SDBridgePlanePasses.h) and the pose
// keypoints taken with it: the slot counts as complete when the colour and every plane copy are back.
// Render thread only. Not compiled here (written against the documented UE 5.3-5.5 RHI API:
// FRHIGPUTextureReadback::EnqueueCopy / IsReady / Lock(int32& OutRowPitchInPixels, int32* OutBufferHeight)
// / Unlock, RHICmdList.Transition).
#pragma once

#include "CoreMinimal.h"
#include "PixelFormat.h"
#include "RHIGPUReadback.h"
#include "RenderGraphFwd.h"  // FRDGBuilder, FRDGTextureRef (RenderCore, UE 5.x)

#include "sdbridge/client.h"          // sdbridge::PlaneView
#include "sdbridge/engine_support.h"  // sdbridge::ReadbackSlots: the slot policy, tested by ctest
#include "sdbridge/messages.h"        // sdbridge::PlaneDesc

#include <vector>

class FRHICommandListImmediate;
class FRHITexture;

/** A completed readback, valid only inside the ConsumeReady callback. */
struct FSDBridgeReadbackView
{
	const uint8* Data = nullptr;
	int32 RowPitchBytes = 0;  // >= Width * bytes per pixel (GPU rows are padded)
	FIntPoint Size = FIntPoint::ZeroValue;
	EPixelFormat Format = PF_Unknown;
	uint64 CaptureTimeUs = 0;  // sdbridge::NowMicros() when the copy was requested
	std::vector<sdbridge::PlaneView> Planes;  // the engine planes read back with it (stride: the readback's row pitch)
	const TArray<float>* Pose = nullptr;      // OpenPose keypoints (x, y per keypoint, 18 a body, capture pixels) or null
	FString PoseName;                         // the pose Control plane's name
	bool bSceneCut = false;                   // the first capture after a scene cut
};

/** An engine plane to read back with a capture (its RDG texture and wire description). */
struct FSDBridgePlaneCopy
{
	FRDGTextureRef Texture = nullptr;
	sdbridge::PlaneDesc Desc;
};

class FSDBridgeReadbackRing
{
public:
	explicit FSDBridgeReadbackRing(int32 NumSlots);

	/**
	 * Queue a copy of Source. Returns false (and counts a skipped capture) when every slot is still in flight. The copy
	 * carries a scene cut marked since the last copy this overload queued (MarkSceneCut).
	 */
	bool EnqueueCopy(FRHICommandListImmediate& RHICmdList, FRHITexture* Source, uint64 CaptureTimeUs);

	/** The next copy queued by the FRHICommandListImmediate overload starts a new shot (the SceneCapture fallback). */
	void MarkSceneCut() { bSceneCutPending = true; }

	/**
	 * Render-graph variant (the player-view capture in Rendering/, UE2): queue a copy of Source with
	 * AddEnqueueCopyPass (RenderGraphUtils.h, UE 5.3-5.5), so RDG does the transitions. Same slot policy.
	 */
	bool EnqueueCopy(FRDGBuilder& GraphBuilder, FRDGTextureRef Source, uint64 CaptureTimeUs);

	/** The same with the engine planes drawn for this capture and its pose keypoints (empty: none). */
	bool EnqueueCopy(FRDGBuilder& GraphBuilder, FRDGTextureRef Source, uint64 CaptureTimeUs,
		const TArray<FSDBridgePlaneCopy>& Planes, TArray<float> Pose, const FString& PoseName, bool bSceneCut = false);

	/**
	 * Free every completed slot, oldest first, and pass only the newest completed one to Consumer (older
	 * ones would be replaced by the client's latest-frame slot anyway). Returns the number of freed slots.
	 */
	int32 ConsumeReady(TFunctionRef<void(const FSDBridgeReadbackView&)> Consumer);

	/** Captures skipped because all slots were busy (any thread). */
	uint64 GetSkipped() const { return SlotPolicy.skipped(); }

private:
	struct FPlaneSlot
	{
		TUniquePtr<FRHIGPUTextureReadback> Readback;
		sdbridge::PlaneDesc Desc;
		EPixelFormat Format = PF_Unknown;
	};

	struct FSlot
	{
		TUniquePtr<FRHIGPUTextureReadback> Readback;
		FIntPoint Size = FIntPoint::ZeroValue;
		EPixelFormat Format = PF_Unknown;
		uint64 CaptureTimeUs = 0;
		TArray<FPlaneSlot> Planes;  // the planes of the capture in flight (readbacks kept and reused)
		int32 PlaneCount = 0;       // how many of Planes belong to the capture in flight
		TArray<float> Pose;
		FString PoseName;
		bool bSceneCut = false;  // the capture starts a new shot

		bool IsReady() const;
	};

	/** Locks the plane copies of Slot and adds them to View (every locked one is unlocked by ConsumeReady). */
	static void LockPlanes(FSlot& Slot, FSDBridgeReadbackView& View);

	/** Reserves the next free slot (or counts a skip), frees completed slots oldest first (engine-free, core/). */
	FSlot* Reserve();

	sdbridge::ReadbackSlots SlotPolicy;
	TArray<FSlot> Slots;  // SlotPolicy.size() readbacks, indexed by the policy's slot numbers
	bool bSceneCutPending = false;  // MarkSceneCut: kept until a copy is queued (a skipped capture does not lose it)
};
