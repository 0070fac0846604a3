// Not compiled here (Unreal Engine is not available on the build machines).
#include "SDBridgeReadbackRing.h"

#include "RHICommandList.h"
#include "RHIResources.h"
#include "RenderGraphBuilder.h"
#include "RenderGraphUtils.h"

FSDBridgeReadbackRing::FSDBridgeReadbackRing(int32 NumSlots)
{
	const int32 N = FMath::Clamp(NumSlots, 2, 4);
	Slots.SetNum(N);
	for (int32 Index = 0; Index < N; ++Index)
	{
		Slots[Index].Readback = MakeUnique<FRHIGPUTextureReadback>(*FString::Printf(TEXT("SDBridgeReadback%d"), Index));
	}
}

bool FSDBridgeReadbackRing::EnqueueCopy(FRHICommandListImmediate& RHICmdList, FRHITexture* Source, uint64 CaptureTimeUs)
{
	check(IsInRenderingThread());
	if (Source == nullptr)
	{
		return false;
	}
	if (Count == Slots.Num())
	{
		Skipped.fetch_add(1, std::memory_order_relaxed);  // the GPU is behind: skip, never wait
		return false;
	}
	FSlot& Slot = Slots[(Head + Count) % Slots.Num()];
	const FIntVector Size = Source->GetSizeXYZ();
	Slot.Size = FIntPoint(Size.X, Size.Y);
	Slot.Format = Source->GetFormat();
	Slot.CaptureTimeUs = CaptureTimeUs;
	// The scene capture leaves its target readable by shaders; the copy needs it as a copy source.
	RHICmdList.Transition(FRHITransitionInfo(Source, ERHIAccess::Unknown, ERHIAccess::CopySrc));
	Slot.Readback->EnqueueCopy(RHICmdList, Source);
	RHICmdList.Transition(FRHITransitionInfo(Source, ERHIAccess::CopySrc, ERHIAccess::SRVMask));
	++Count;
	return true;
}

bool FSDBridgeReadbackRing::EnqueueCopy(FRDGBuilder& GraphBuilder, FRDGTextureRef Source, uint64 CaptureTimeUs)
{
	check(IsInRenderingThread());
	if (Source == nullptr)
	{
		return false;
	}
	if (Count == Slots.Num())
	{
		Skipped.fetch_add(1, std::memory_order_relaxed);  // the GPU is behind: skip, never wait
		return false;
	}
	FSlot& Slot = Slots[(Head + Count) % Slots.Num()];
	Slot.Size = Source->Desc.Extent;
	Slot.Format = Source->Desc.Format;
	Slot.CaptureTimeUs = CaptureTimeUs;
	AddEnqueueCopyPass(GraphBuilder, Slot.Readback.Get(), Source);
	++Count;
	return true;
}

int32 FSDBridgeReadbackRing::ConsumeReady(TFunctionRef<void(const FSDBridgeReadbackView&)> Consumer)
{
	check(IsInRenderingThread());
	int32 Ready = 0;
	while (Ready < Count && Slots[(Head + Ready) % Slots.Num()].Readback->IsReady())
	{
		++Ready;
	}
	for (int32 Index = 0; Index < Ready; ++Index)
	{
		FSlot& Slot = Slots[Head];
		if (Index == Ready - 1)
		{
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
				Consumer(View);
			}
			Slot.Readback->Unlock();
		}
		Head = (Head + 1) % Slots.Num();
		--Count;
	}
	return Ready;
}
