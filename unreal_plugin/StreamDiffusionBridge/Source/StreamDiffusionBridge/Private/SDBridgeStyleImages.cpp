// FSDBridgeStyleImages (see the header): the editor source-mip path, the canvas draw + FRHIGPUTextureReadback path
// (the one packaged builds use) and the style_blend selection.
// Not compiled here (Unreal Engine is not available on the build machines). Written against Epic's documented UE
// 5.3-5.5 APIs: FTextureSource::GetMipData / GetFormat / GetSizeX / GetSizeY (editor only),
// UKismetRenderingLibrary::CreateRenderTarget2D / BeginDrawCanvasToRenderTarget / EndDrawCanvasToRenderTarget,
// UCanvas::K2_DrawTexture, UTextureRenderTarget2D::GameThread_GetRenderTargetResource, ENQUEUE_RENDER_COMMAND,
// FRHIGPUTextureReadback::EnqueueCopy / IsReady / Lock(int32& OutRowPitchInPixels, int32* OutBufferHeight) / Unlock.
#include "SDBridgeStyleImages.h"

#include "Engine/Canvas.h"
#include "Engine/Texture2D.h"
#include "Engine/TextureRenderTarget2D.h"
#include "Kismet/KismetRenderingLibrary.h"
#include "PixelFormat.h"  // GPixelFormats (Core): bytes per pixel and the format name of the read-back target
#include "RHICommandList.h"
#include "RHIGPUReadback.h"
#include "RenderingThread.h"
#include "TextureResource.h"

#include "SDBridgeConversions.h"
#include "sdbridge/generated/stream_params.h"

#include <atomic>

/** One GPU read, shared with the render thread. */
struct FSDBridgeStyleRead
{
	TUniquePtr<FRHIGPUTextureReadback> Readback;
	FIntPoint Size = FIntPoint::ZeroValue;
	EPixelFormat Format = PF_Unknown;
	TArray<uint8> Pixels;         // tight rows, written on the render thread before bDone
	std::atomic<bool> bDone{false};
	std::atomic<bool> bFailed{false};
};

namespace
{
FIntPoint FitSize(int32 Width, int32 Height)
{
	Width = FMath::Max(Width, 1);
	Height = FMath::Max(Height, 1);
	const int32 Longer = FMath::Max(Width, Height);
	if (Longer <= FSDBridgeStyleImages::MaxSide)
	{
		return FIntPoint(Width, Height);
	}
	const double Scale = static_cast<double>(FSDBridgeStyleImages::MaxSide) / Longer;
	return FIntPoint(FMath::Max(1, FMath::RoundToInt(Width * Scale)), FMath::Max(1, FMath::RoundToInt(Height * Scale)));
}

// Frees a read on the render thread, after any poll command already queued for it.
// (Captures are named Shared: a capture named Read would shadow FSDBridgeStyleImages::Read, an error in engine builds.)
void ReleaseOnRenderThread(TSharedPtr<FSDBridgeStyleRead, ESPMode::ThreadSafe> InRead)
{
	ENQUEUE_RENDER_COMMAND(SDBridgeStyleRelease)([Shared = MoveTemp(InRead)](FRHICommandListImmediate&) mutable { Shared.Reset(); });
}
}  // namespace

FSDBridgeStyleImages::~FSDBridgeStyleImages()
{
	for (FPending& P : Pending)
	{
		ReleaseOnRenderThread(MoveTemp(P.Read));
	}
}

FString FSDBridgeStyleImages::CheckWeight(FName Name, float Weight)
{
	using Range = sdbridge::stream_params::StyleBlend;
	if (Range::InRange(Weight))
	{
		return FString();
	}
	return FString::Printf(TEXT("%s weight of style '%s' is %g; it must be in %s (0 turns the style off)"),
		*SDBridge::FromUtf8(Range::kFieldPath), *Name.ToString(), Weight, *SDBridge::FromUtf8(Range::kRangeText));
}

bool FSDBridgeStyleImages::Read(UObject* WorldContext, FName Name, UTexture2D* Texture, float Weight, FString& OutError)
{
	if (Name.IsNone())
	{
		OutError = TEXT("SetStyleFromTexture: Name is None; name the style (Params.style_blend refers to it)");
		return false;
	}
	if (Texture == nullptr)
	{
		OutError = FString::Printf(TEXT("SetStyleFromTexture: style '%s' has no texture; pass a UTexture2D"), *Name.ToString());
		return false;
	}
	OutError = CheckWeight(Name, Weight);
	if (!OutError.IsEmpty())
	{
		return false;
	}
	return ReadSource(Name, Texture, Weight) || ReadOnGpu(WorldContext, Name, Texture, Weight, OutError);
}

bool FSDBridgeStyleImages::ReadSource(FName Name, UTexture2D* Texture, float Weight)
{
#if WITH_EDITOR  // FTextureSource's accessors are WITH_EDITOR (Engine/Texture.h 5.3), the Source member WITH_EDITORONLY_DATA
	FTextureSource& Source = Texture->Source;
	if (!Source.IsValid() || Source.GetFormat() != TSF_BGRA8 || Source.GetSizeX() > MaxSide || Source.GetSizeY() > MaxSide)
	{
		return false;  // not 8-bit BGRA, or too large to send unscaled: the GPU path converts and scales
	}
	TArray64<uint8> Mip;
	const int64 Expected = static_cast<int64>(Source.GetSizeX()) * Source.GetSizeY() * 4;
	if (!Source.GetMipData(Mip, 0) || Mip.Num() != Expected)
	{
		return false;  // the GPU path reads it instead
	}
	FSDBridgeStylePixels& Out = Ready.AddDefaulted_GetRef();
	Out.Name = Name;
	Out.Weight = Weight;
	Out.Width = static_cast<int32>(Source.GetSizeX());  // int64 accessors (Engine/Texture.h), at most MaxSide here
	Out.Height = static_cast<int32>(Source.GetSizeY());
	Out.Stride = Out.Width * 4;
	Out.Format = sdbridge::PixelFormat::kBGRA8;  // TSF_BGRA8, rows top-down
	Out.Pixels.Append(Mip.GetData(), static_cast<int32>(Mip.Num()));
	return true;
#else
	return false;  // a packaged build has no source data
#endif
}

bool FSDBridgeStyleImages::ReadOnGpu(UObject* WorldContext, FName Name, UTexture2D* Texture, float Weight, FString& OutError)
{
	const FIntPoint Size = FitSize(Texture->GetSizeX(), Texture->GetSizeY());
	UTextureRenderTarget2D* Target = UKismetRenderingLibrary::CreateRenderTarget2D(WorldContext, Size.X, Size.Y, RTF_RGBA8_SRGB);
	if (Target == nullptr)
	{
		OutError = FString::Printf(TEXT("SetStyleFromTexture: cannot create a %dx%d render target for style '%s' (no world?)"),
			Size.X, Size.Y, *Name.ToString());
		return false;
	}
	UCanvas* Canvas = nullptr;
	FVector2D CanvasSize;
	FDrawToRenderTargetContext Context;
	UKismetRenderingLibrary::BeginDrawCanvasToRenderTarget(WorldContext, Target, Canvas, CanvasSize, Context);
	if (Canvas != nullptr)
	{
		Canvas->K2_DrawTexture(Texture, FVector2D::ZeroVector, CanvasSize, FVector2D::ZeroVector, FVector2D::UnitVector,
			FLinearColor::White, BLEND_Opaque);
	}
	UKismetRenderingLibrary::EndDrawCanvasToRenderTarget(WorldContext, Context);

	FPending& P = Pending.AddDefaulted_GetRef();
	P.Name = Name;
	P.Weight = Weight;
	P.Target.Reset(Target);
	P.Read = MakeShared<FSDBridgeStyleRead, ESPMode::ThreadSafe>();
	P.Read->Readback = MakeUnique<FRHIGPUTextureReadback>(TEXT("SDBridgeStyleReadback"));
	FTextureRenderTargetResource* Resource = Target->GameThread_GetRenderTargetResource();
	ENQUEUE_RENDER_COMMAND(SDBridgeStyleCopy)(
		[Shared = P.Read, Resource](FRHICommandListImmediate& RHICmdList)
		{
			FRHITexture* Source = Resource != nullptr ? Resource->GetRenderTargetTexture() : nullptr;
			if (Source == nullptr)
			{
				Shared->bFailed = true;
				Shared->bDone = true;
				return;
			}
			Shared->Size = Source->GetDesc().Extent;  // FRHITextureDesc (5.1+): GetFormat() is deprecated since 5.2
			Shared->Format = Source->GetDesc().Format;
			RHICmdList.Transition(FRHITransitionInfo(Source, ERHIAccess::Unknown, ERHIAccess::CopySrc));
			Shared->Readback->EnqueueCopy(RHICmdList, Source);
			RHICmdList.Transition(FRHITransitionInfo(Source, ERHIAccess::CopySrc, ERHIAccess::SRVMask));
		});
	return true;
}

void FSDBridgeStyleImages::Tick(TFunctionRef<void(const FSDBridgeStylePixels&)> Send)
{
	for (const FSDBridgeStylePixels& Pixels : Ready)
	{
		Send(Pixels);
	}
	Ready.Reset();
	for (int32 Index = 0; Index < Pending.Num();)
	{
		FPending& P = Pending[Index];
		if (!P.Read->bDone.load(std::memory_order_acquire))
		{
			// Poll on the render thread: IsReady, then Lock / Unlock there (the RHI's staging-buffer rule).
			ENQUEUE_RENDER_COMMAND(SDBridgeStylePoll)(
				[Shared = P.Read](FRHICommandListImmediate&)
				{
					if (Shared->bDone.load() || !Shared->Readback->IsReady())
					{
						return;
					}
					const int32 BytesPerPixel = GPixelFormats[Shared->Format].BlockBytes;
					const int32 RowBytes = Shared->Size.X * BytesPerPixel;
					int32 RowPitchInPixels = 0;
					const uint8* Data = static_cast<const uint8*>(Shared->Readback->Lock(RowPitchInPixels));
					if (Data != nullptr)
					{
						Shared->Pixels.SetNumUninitialized(RowBytes * Shared->Size.Y);
						for (int32 Row = 0; Row < Shared->Size.Y; ++Row)
						{
							FMemory::Memcpy(Shared->Pixels.GetData() + Row * RowBytes, Data + Row * RowPitchInPixels * BytesPerPixel, RowBytes);
						}
					}
					Shared->Readback->Unlock();
					Shared->bFailed = Data == nullptr;
					Shared->bDone.store(true, std::memory_order_release);
				});
			++Index;
			continue;
		}
		FSDBridgeStylePixels Out;
		Out.Name = P.Name;
		Out.Weight = P.Weight;
		Out.Width = P.Read->Size.X;
		Out.Height = P.Read->Size.Y;
		Out.Stride = Out.Width * GPixelFormats[P.Read->Format].BlockBytes;
		Out.Format = SDBridge::ToWire(P.Read->Format);  // PF_B8G8R8A8 -> BGRA8, PF_R8G8B8A8 -> RGBA8
		Out.Pixels = MoveTemp(P.Read->Pixels);
		if (P.Read->bFailed || Out.Format == sdbridge::PixelFormat::kUnknown)
		{
			Out.Error = FString::Printf(TEXT("the GPU read of style '%s' failed (render target format %s, expected 8-bit RGBA/BGRA)"),
				*P.Name.ToString(), GPixelFormats[P.Read->Format].Name);
		}
		ReleaseOnRenderThread(MoveTemp(P.Read));
		Pending.RemoveAt(Index);
		Send(Out);
	}
}

void FSDBridgeStyleImages::SetWeight(FName Name, float Weight)
{
	const std::string Key = SDBridge::ToUtf8(Name.ToString());
	bool bFound = false;
	for (sdbridge::AdapterWeight& W : Weights)
	{
		if (W.name == Key)
		{
			W.weight = Weight;
			bFound = true;
		}
	}
	if (!bFound)
	{
		Weights.push_back(sdbridge::AdapterWeight{Key, Weight});
	}
}

void FSDBridgeStyleImages::SetSelection(const TMap<FName, float>& InWeights)
{
	Weights.clear();
	for (const TPair<FName, float>& Pair : InWeights)
	{
		Weights.push_back(sdbridge::AdapterWeight{SDBridge::ToUtf8(Pair.Key.ToString()), Pair.Value});
	}
}
