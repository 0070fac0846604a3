// FSDBridgeStreamer: one bridge session for the engine (used by USDBridgeComponent and the editor's
// prompt preview panel). Owns the core client and the GPU readback ring; game-thread API.
// Not compiled here (written against Epic's documented UE 5.3-5.5 APIs; see README).
#pragma once

#include "CoreMinimal.h"
#include "StreamDiffusionBridgeTypes.h"
#include "Templates/SharedPointer.h"

#include <memory>

class UTexture2D;
class UTextureRenderTarget2D;
class FSDBridgeReadbackRing;
class FSDBridgeStyleImages;
struct FSDBridgeStylePixels;
struct FSDBridgeReadbackView;
namespace sdbridge
{
class Client;
class ConnectionLogPolicy;
}

struct STREAMDIFFUSIONBRIDGE_API FSDBridgeStreamerOptions
{
	FString Endpoint = TEXT("tcp://127.0.0.1:5555");
	FString ClientName = TEXT("StreamDiffusionBridge-Unreal");
	int32 HandshakeTimeoutMs = 2000;
	int32 PeerTimeoutMs = 5000;
	int32 ReadbackRingSize = 3;
	/** Offer the GameEvents capability in the Hello (USDBridgeComponent::bOfferGameEvents). */
	bool bOfferGameEvents = true;
	/** CurveZMQ keys (Z85, all three or none); see USDBridgeSettings. */
	FString CurveServerKey;
	FString CurvePublicKey;
	FString CurveSecretKey;

	/** Values from Project Settings > Plugins > StreamDiffusion Bridge. */
	static FSDBridgeStreamerOptions FromSettings();
};

enum class ESDBridgeEventKind : uint8
{
	Connected,
	Disconnected,
	Error,
	Warning,
	Stats,
	Notice,
};

/** How loudly an event is logged; the same values as sdbridge::LogLevel (core/include/sdbridge/log_policy.h). */
enum class ESDBridgeLogLevel : uint8
{
	Verbose,
	Log,
	Warning,
	Error,
};

struct STREAMDIFFUSIONBRIDGE_API FSDBridgeEvent
{
	ESDBridgeEventKind Kind = ESDBridgeEventKind::Error;
	ESDBridgeLogLevel Level = ESDBridgeLogLevel::Log;
	bool bRepeat = false;  // a retry of an outage already reported, or a repeated error: log quietly, do not broadcast
	FString Message;
	FSDBridgeError Error;  // Error / Warning
	int64 FramesIn = 0;    // Stats
	int64 FramesOut = 0;
	int64 FramesDropped = 0;
	float ServerFpsOut = 0.0f;
	FString PreviewAddress;           // Notice: the browser preview page of this session (empty otherwise)
	bool bPromptFromPreview = false;  // Notice: the preview page set the prompt to NewPrompt / NewNegativePrompt
	FString NewPrompt;
	FString NewNegativePrompt;
};

class STREAMDIFFUSIONBRIDGE_API FSDBridgeStreamer
{
public:
	explicit FSDBridgeStreamer(const FSDBridgeStreamerOptions& InOptions);
	~FSDBridgeStreamer();
	FSDBridgeStreamer(const FSDBridgeStreamer&) = delete;
	FSDBridgeStreamer& operator=(const FSDBridgeStreamer&) = delete;

	/** Start connecting (non-blocking). False with OutError if the transport is unavailable or the options are invalid. */
	bool Start(FString& OutError);
	/** Say Bye and stop. Pending render commands keep the client alive until they ran. */
	void Stop();
	ESDBridgeConnectionState GetState() const;

	/**
	 * Game thread, once per frame: enqueue a render command that hands the newest finished GPU copy to the
	 * client and queues a copy of Target. Never waits for the GPU; skips when every readback is in flight, and while
	 * txt2img is on (SetParams with bTxt2img: the server generates the frames, the client sends none).
	 * bSceneCut: the next copy queued starts a new shot (Frame.scene_cut; kept by the ring until a copy is queued).
	 */
	void CaptureFrom(UTextureRenderTarget2D* Target, bool bSceneCut = false);

	/**
	 * Game thread: if a new result arrived, write it into InOutTexture with UpdateTexture2D on the render
	 * thread, creating (or re-creating, when size or format changed) a persistent transient UTexture2D.
	 * Older undelivered results are dropped. Returns true when the texture received a new frame.
	 */
	bool UpdateOutputTexture(TObjectPtr<UTexture2D>& InOutTexture, FSDBridgeResultInfo& OutInfo, bool& bOutTextureRecreated);

	/** Game thread: next connection/error/stats event, if any. */
	bool PollEvent(FSDBridgeEvent& OutEvent);

	bool SetPrompt(const FString& Prompt, const FString& NegativePrompt, int32 TransitionFrames, FString& OutError);
	bool SetPromptBlend(const TArray<FSDBridgeWeightedPrompt>& Blend, const FString& NegativePrompt, int32 TransitionFrames,
		FString& OutError);
	bool SetParams(const FSDBridgeParams& Params, FString& OutError);
	bool SendGameEvent(const FString& Name, const TMap<FString, FSDBridgeValue>& Payload, FString& OutError);
	bool SetState(const TMap<FString, FSDBridgeValue>& Entries, bool bReplaceAll, FString& OutError);
	bool RequestStats(FString& OutError);

	/**
	 * Protocol 1.4 style images (servers with an IP-Adapter; Private/SDBridgeStreamerStyle.cpp): starts reading
	 * Texture (FSDBridgeStyleImages: the editor's BGRA8 source mip at once, else a canvas draw into a small render
	 * target of WorldContext's world and an asynchronous GPU readback, the only path in a packaged build); TickStyleImages
	 * then sends it as style Name and its Weight in Params.style_blend. False with OutError on a bad argument.
	 */
	bool SetStyleFromTexture(UObject* WorldContext, FName Name, UTexture2D* Texture, float Weight, FString& OutError);
	/** Sets one style's weight in Params.style_blend (0 turns it off), keeping the others; sends the whole selection. */
	bool SetStyleBlend(FName Name, float Weight, FString& OutError);
	/** Replaces the whole Params.style_blend selection. */
	bool SetStyleSelection(const TMap<FName, float>& Weights, FString& OutError);
	/** Game thread, every tick: sends the finished style reads; false with OutError when one failed or was refused. */
	bool TickStyleImages(FString& OutError);

	/** Captures skipped because every GPU readback was still in flight. */
	uint64 GetSkippedCaptures() const;

	/** Game thread: connection state, results/s, round trip and the last error (never blocks on the network). */
	FSDBridgeStatus GetStatus() const;

	/**
	 * For the player-view capture (Private/Rendering, UE2): the client and the readback ring, shared with
	 * render-thread code (null while stopped). Game thread.
	 */
	std::shared_ptr<sdbridge::Client> GetClient() const { return Client; }
	TSharedPtr<FSDBridgeReadbackRing, ESPMode::ThreadSafe> GetReadbackRing() const { return Ring; }

	/** Render thread: submit one finished readback (top-down, sRGB) to Target; the frame id, or 0 if not submitted. */
	static uint64 SubmitReadback(sdbridge::Client& Target, const FSDBridgeReadbackView& View);

private:
	FSDBridgeStreamerOptions Options;
	bool bTxt2img = false;  // the last bTxt2img sent with SetParams (game thread)
	std::shared_ptr<sdbridge::Client> Client;  // shared with render commands
	TSharedPtr<FSDBridgeReadbackRing, ESPMode::ThreadSafe> Ring;  // used on the render thread only
	TUniquePtr<sdbridge::ConnectionLogPolicy> LogPolicy;           // game thread (PollEvent)
	TUniquePtr<FSDBridgeStyleImages> StyleImages;                  // game thread (created on first use)
	FSDBridgeStyleImages& GetStyleImages();
	bool SendStyle(const FSDBridgeStylePixels& Pixels, FString& OutError);
	bool SendStyleBlend(FString& OutError);
	bool bWarnedFormat = false;
};
