// FSDBridgeStyleImages: the style images of one USDBridgeComponent (protocol 1.4, servers with an IP-Adapter). Reads a
// UTexture2D's pixels without stalling the game and keeps the whole Params.style_blend selection (a style_blend
// replaces the session's selection, so every change sends all the weights set so far). Game-thread API.
// Two ways to read a texture:
//   - Editor builds (WITH_EDITOR, PIE included): the texture's import source, mip 0 (FTextureSource::
//     GetMipData), when it is BGRA8 and within MaxSide: CPU only, at once. The cooked platform data (FTexture2DMipMap
//     BulkData) is not used: it is usually block-compressed (DXT/BC) and a cooked build drops its CPU copy after the
//     upload.
//   - Everywhere else, and the only path in a PACKAGED build: the texture is drawn with a UCanvas into a transient
//     UTextureRenderTarget2D (RTF_RGBA8_SRGB, scaled to fit MaxSide; UKismetRenderingLibrary::BeginDrawCanvasToRenderTarget
//     / UCanvas::K2_DrawTexture / EndDrawCanvasToRenderTarget), copied with an FRHIGPUTextureReadback on the render
//     thread and polled each tick (IsReady, then Lock / Unlock on the render thread): the game never waits. A
//     streaming texture is drawn from the mips resident at that moment.
// Rows are top-down (Unreal's texture order); the format is the render target's (PF_B8G8R8A8 -> BGRA8).
// Not compiled here (Unreal Engine is not available on the build machines): written against Epic's documented UE
// 5.3-5.5 APIs named above.
#pragma once

#include "CoreMinimal.h"
#include "UObject/StrongObjectPtr.h"

#include "sdbridge/messages.h"

#include <vector>

class UTexture2D;
class UTextureRenderTarget2D;
struct FSDBridgeStyleRead;

/** One style image ready to send: tight rows (Stride = Width * bytes per pixel), top-down. */
struct FSDBridgeStylePixels
{
	FName Name;
	float Weight = 1.0f;
	TArray<uint8> Pixels;
	int32 Width = 0;
	int32 Height = 0;
	int32 Stride = 0;
	sdbridge::PixelFormat Format = sdbridge::PixelFormat::kBGRA8;
	/** Not empty when the read failed (then Pixels is empty): the reason. */
	FString Error;
};

class FSDBridgeStyleImages
{
public:
	/** Longest side sent (the server's IP-Adapter encoder resizes to far less; it also bounds the message). */
	static constexpr int32 MaxSide = 512;

	~FSDBridgeStyleImages();

	/**
	 * Starts reading Texture as style Name. False with OutError when the name is empty, the texture is null or the
	 * weight is outside Params.style_blend's range; the pixels come out of Tick (at once for the editor path).
	 */
	bool Read(UObject* WorldContext, FName Name, UTexture2D* Texture, float Weight, FString& OutError);

	/** Game thread, every tick: hands each finished read (or failed one, Error set) to Send and polls the others. */
	void Tick(TFunctionRef<void(const FSDBridgeStylePixels&)> Send);

	/** Sets one style's weight, keeping the others (send GetWeights: the whole selection). */
	void SetWeight(FName Name, float Weight);

	/** Replaces the whole selection (styles not named get no weight). */
	void SetSelection(const TMap<FName, float>& InWeights);

	/** The whole Params.style_blend selection. */
	const std::vector<sdbridge::AdapterWeight>& GetWeights() const { return Weights; }

	/** The range check of one weight (generated/stream_params.h): empty when valid, else the reason. */
	static FString CheckWeight(FName Name, float Weight);

	/** Reads still on the GPU. */
	int32 NumPending() const { return Pending.Num(); }

private:
	struct FPending
	{
		FName Name;
		float Weight = 1.0f;
		TStrongObjectPtr<UTextureRenderTarget2D> Target;  // kept alive until the copy is back
		TSharedPtr<FSDBridgeStyleRead, ESPMode::ThreadSafe> Read;
	};

	bool ReadSource(FName Name, UTexture2D* Texture, float Weight);
	bool ReadOnGpu(UObject* WorldContext, FName Name, UTexture2D* Texture, float Weight, FString& OutError);

	TArray<FPending> Pending;
	TArray<FSDBridgeStylePixels> Ready;  // read at once (editor path), sent by the next Tick
	std::vector<sdbridge::AdapterWeight> Weights;
};
