// Not compiled here (Unreal Engine is not available on the build machines). The slot policy (reserve or skip,
// consume in order, newest completed slot only) is sdbridge::ReadbackSlots in the core, tested by ctest.
#include "SDBridgeReadbackRing.h"

#include "RHICommandList.h"
#include "RHIResources.h"
#include "RenderGraphBuilder.h"
#include "RenderGraphUtils.h"

FSDBridgeReadbackRing::FSDBridgeReadbackRing(int32 NumSlots)
	: SlotPolicy(NumSlots)  // clamped to 2..4
{
	const int32 N = SlotPolicy.size();
	Slots.SetNum(N);
	for (int32 Index = 0; Index < N; ++Index)
	{
		Slots[Index].Readback = MakeUnique<FRHIGPUTextureReadback>(*FString::Printf(TEXT("SDBridgeReadback%d"), Index));
	}
}

void FSDBridgeReadbackRing::LockPlanes(FSlot& Slot, FSDBridgeReadbackView& View)
{
	for (int32 Index = 0; Index < Slot.PlaneCount; ++Index)
	{
		FPlaneSlot& P = Slot.Planes[Index];
		int32 RowPitchInPixels = 0;
		int32 BufferHeight = 0;
		const uint8* Data = static_cast<const uint8*>(P.Readback->Lock(RowPitchInPixels, &BufferHeight));
		sdbridge::PlaneView Plane;
		Plane.desc = P.Desc;
		Plane.desc.stride = static_cast<uint32_t>(RowPitchInPixels * GPixelFormats[P.Format].BlockBytes);  // padded rows
		Plane.data = Data;
		Plane.size = static_cast<size_t>(Plane.desc.stride) * Plane.desc.height;
		const int32 Rows = BufferHeight > 0 ? BufferHeight : static_cast<int32>(P.Desc.height);
		if (Data != nullptr && RowPitchInPixels >= static_cast<int32>(P.Desc.width) && Rows >= static_cast<int32>(P.Desc.height))
		{
			View.Planes.push_back(Plane);  // Unlocked by ConsumeReady after the consumer returned
		}
	}
}

FSDBridgeReadbackRing::FSlot* FSDBridgeReadbackRing::Reserve()
{
	const int32 Index = SlotPolicy.Reserve();  // -1: every slot in flight, the GPU is behind: skip (counted), never wait
	if (Index < 0)
	{
		return nullptr;
	}
	FSlot& Slot = Slots[Index];
	Slot.PlaneCount = 0;  // a capture without planes, pose or scene cut unless the caller adds them
	Slot.Pose.Reset();
	Slot.bSceneCut = false;
	return &Slot;
}

bool FSDBridgeReadbackRing::EnqueueCopy(FRHICommandListImmediate& RHICmdList, FRHITexture* Source, uint64 CaptureTimeUs)
{
	check(IsInRenderingThread());
	if (Source == nullptr)
	{
		return false;
	}
	FSlot* SlotPtr = Reserve();
	if (SlotPtr == nullptr)
	{
		return false;
	}
	FSlot& Slot = *SlotPtr;
	// FRHITextureDesc (5.1+): FRHITexture::GetFormat / GetSizeX are deprecated since 5.2 (RHIResources.h).
	Slot.Size = Source->GetDesc().Extent;
	Slot.Format = Source->GetDesc().Format;
	Slot.CaptureTimeUs = CaptureTimeUs;
	Slot.bSceneCut = bSceneCutPending;
	bSceneCutPending = false;
	// The scene capture leaves its target readable by shaders; the copy needs it as a copy source.
	RHICmdList.Transition(FRHITransitionInfo(Source, ERHIAccess::Unknown, ERHIAccess::CopySrc));
	Slot.Readback->EnqueueCopy(RHICmdList, Source);
	RHICmdList.Transition(FRHITransitionInfo(Source, ERHIAccess::CopySrc, ERHIAccess::SRVMask));
	return true;
}

bool FSDBridgeReadbackRing::EnqueueCopy(FRDGBuilder& GraphBuilder, FRDGTextureRef Source, uint64 CaptureTimeUs)
{
	check(IsInRenderingThread());
	if (Source == nullptr)
	{
		return false;
	}
	FSlot* SlotPtr = Reserve();
	if (SlotPtr == nullptr)
	{
		return false;
	}
	FSlot& Slot = *SlotPtr;
	Slot.Size = Source->Desc.Extent;
	Slot.Format = Source->Desc.Format;
	Slot.CaptureTimeUs = CaptureTimeUs;
	AddEnqueueCopyPass(GraphBuilder, Slot.Readback.Get(), Source);
	return true;
}

bool FSDBridgeReadbackRing::FSlot::IsReady() const
{
	if (!Readback->IsReady())
	{
		return false;
	}
	for (int32 Index = 0; Index < PlaneCount; ++Index)
	{
		if (!Planes[Index].Readback->IsReady())
		{
			return false;
		}
	}
	return true;
}

bool FSDBridgeReadbackRing::EnqueueCopy(FRDGBuilder& GraphBuilder, FRDGTextureRef Source, uint64 CaptureTimeUs,
	const TArray<FSDBridgePlaneCopy>& Planes, TArray<float> Pose, const FString& PoseName, bool bSceneCut)
{
	check(IsInRenderingThread());
	if (Source == nullptr)
	{
		return false;
	}
	FSlot* SlotPtr = Reserve();
	if (SlotPtr == nullptr)
	{
		return false;
	}
	FSlot& Slot = *SlotPtr;
	Slot.Size = Source->Desc.Extent;
	Slot.Format = Source->Desc.Format;
	Slot.CaptureTimeUs = CaptureTimeUs;
	AddEnqueueCopyPass(GraphBuilder, Slot.Readback.Get(), Source);
	while (Slot.Planes.Num() < Planes.Num())
	{
		FPlaneSlot& Added = Slot.Planes.AddDefaulted_GetRef();
		Added.Readback = MakeUnique<FRHIGPUTextureReadback>(*FString::Printf(TEXT("SDBridgePlaneReadback%d"), Slot.Planes.Num()));
	}
	Slot.PlaneCount = 0;
	for (const FSDBridgePlaneCopy& Plane : Planes)
	{
		if (Plane.Texture == nullptr)
		{
			continue;
		}
		FPlaneSlot& P = Slot.Planes[Slot.PlaneCount++];
		P.Desc = Plane.Desc;
		P.Format = Plane.Texture->Desc.Format;
		AddEnqueueCopyPass(GraphBuilder, P.Readback.Get(), Plane.Texture);
	}
	Slot.Pose = MoveTemp(Pose);
	Slot.PoseName = PoseName;
	Slot.bSceneCut = bSceneCut;
	return true;
}

int32 FSDBridgeReadbackRing::ConsumeReady(TFunctionRef<void(const FSDBridgeReadbackView&)> Consumer)
{
	check(IsInRenderingThread());
	// Completed copies in order (a later one that finished first waits for the earlier), then only the newest of
	// them is read: older ones would be replaced by the client's latest-frame slot anyway.
	const int32 Ready = SlotPolicy.CountReady([this](int Index) { return Slots[Index].IsReady(); });
	if (Ready > 0)
	{
		FSlot& Slot = Slots[SlotPolicy.InFlight(Ready - 1)];
		int32 RowPitchInPixels = 0;
		int32 BufferHeight = 0;
		const uint8* Data = static_cast<const uint8*>(Slot.Readback->Lock(RowPitchInPixels, &BufferHeight));
		const int32 Rows = BufferHeight > 0 ? BufferHeight : Slot.Size.Y;  // some RHIs do not report it
		if (Data != nullptr && RowPitchInPixels >= Slot.Size.X && Rows >= Slot.Size.Y)
		{
			FSDBridgeReadbackView View;
			View.Data = Data;
			View.RowPitchBytes = RowPitchInPixels * GPixelFormats[Slot.Format].BlockBytes;
			View.Size = Slot.Size;
			View.Format = Slot.Format;
			View.CaptureTimeUs = Slot.CaptureTimeUs;
			View.Pose = Slot.Pose.Num() > 0 ? &Slot.Pose : nullptr;
			View.PoseName = Slot.PoseName;
			View.bSceneCut = Slot.bSceneCut;
			LockPlanes(Slot, View);
			Consumer(View);
			for (int32 Index = 0; Index < Slot.PlaneCount; ++Index)
			{
				Slot.Planes[Index].Readback->Unlock();
			}
		}
		Slot.Readback->Unlock();
		Slot.PlaneCount = 0;
		SlotPolicy.Release(Ready);
	}
	return Ready;
}
