// USDBridgeComponent: drop it on an actor with a camera. It captures the view with a SceneCapture2D
// (Final Color LDR into an RGBA8 sRGB render target), streams the frames to the StreamDiffusion Bridge
// server through an FRHIGPUTextureReadback ring (the game thread never waits for the GPU), and writes
// each stylized result into one persistent UTexture2D (RHIUpdateTexture2D on the render thread).
// Not compiled here: written against Epic's documented UE 5.3-5.5 APIs (see the plugin README).
#pragma once

#include "Components/ActorComponent.h"
#include "CoreMinimal.h"
#include "StreamDiffusionBridgeTypes.h"

#include "SDBridgeComponent.generated.h"

class FSDBridgeStreamer;
class UMaterialInstanceDynamic;
class USceneCaptureComponent2D;
class UTexture2D;
class UTextureRenderTarget2D;

DECLARE_DYNAMIC_MULTICAST_DELEGATE_TwoParams(FSDBridgeOnResult, UTexture2D*, Texture, const FSDBridgeResultInfo&, Info);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FSDBridgeOnError, const FSDBridgeError&, Error);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_TwoParams(FSDBridgeOnConnectionChanged, ESDBridgeConnectionState, State, const FString&, Message);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_FourParams(FSDBridgeOnStats, int64, FramesIn, int64, FramesOut, int64, FramesDropped, float, ServerFps);

UCLASS(ClassGroup = (Rendering), meta = (BlueprintSpawnableComponent, DisplayName = "StreamDiffusion Bridge"))
class STREAMDIFFUSIONBRIDGE_API USDBridgeComponent : public UActorComponent
{
	GENERATED_BODY()

public:
	USDBridgeComponent();

	// ------------------------------------------------------------------ setup

	/** Capture to stream. If empty at BeginPlay: the owner's first SceneCapture2D, else one is created on the owner's root. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge")
	TObjectPtr<USceneCaptureComponent2D> SceneCapture;

	/** Connect in BeginPlay (otherwise call Connect). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge")
	bool bAutoConnect = true;

	/** Empty: Project Settings > Plugins > StreamDiffusion Bridge > Endpoint. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge")
	FString EndpointOverride;

	/** 0: the project setting CaptureWidth / CaptureHeight. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge", meta = (ClampMin = "0", ClampMax = "2048"))
	int32 CaptureWidthOverride = 0;
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge", meta = (ClampMin = "0", ClampMax = "2048"))
	int32 CaptureHeightOverride = 0;

	/** Optional: receives the output texture as a texture parameter (e.g. a post-process or UI material). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge")
	TObjectPtr<UMaterialInstanceDynamic> DisplayMaterial;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge")
	FName DisplayTextureParameter = TEXT("StylizedTexture");

	// ------------------------------------------------------------------ output

	/** The persistent texture holding the newest stylized frame (re-created only if the size changes). */
	UPROPERTY(VisibleInstanceOnly, BlueprintReadOnly, Transient, Category = "StreamDiffusion Bridge")
	TObjectPtr<UTexture2D> OutputTexture;

	/** The render target the capture writes (created at BeginPlay). */
	UPROPERTY(VisibleInstanceOnly, BlueprintReadOnly, Transient, Category = "StreamDiffusion Bridge")
	TObjectPtr<UTextureRenderTarget2D> CaptureTarget;

	UPROPERTY(BlueprintAssignable, Category = "StreamDiffusion Bridge")
	FSDBridgeOnResult OnResult;

	UPROPERTY(BlueprintAssignable, Category = "StreamDiffusion Bridge")
	FSDBridgeOnError OnError;

	UPROPERTY(BlueprintAssignable, Category = "StreamDiffusion Bridge")
	FSDBridgeOnConnectionChanged OnConnectionChanged;

	UPROPERTY(BlueprintAssignable, Category = "StreamDiffusion Bridge")
	FSDBridgeOnStats OnStats;

	// ------------------------------------------------------------------ Blueprint API (names follow the wire messages)

	UFUNCTION(BlueprintCallable, Category = "StreamDiffusion Bridge")
	bool Connect();

	UFUNCTION(BlueprintCallable, Category = "StreamDiffusion Bridge")
	void Disconnect();

	UFUNCTION(BlueprintPure, Category = "StreamDiffusion Bridge")
	ESDBridgeConnectionState GetConnectionState() const;

	/** Change the prompt; TransitionFrames > 0 blends from the current prompt over that many frames. */
	UFUNCTION(BlueprintCallable, Category = "StreamDiffusion Bridge")
	bool SetPrompt(const FString& Prompt, const FString& NegativePrompt, int32 TransitionFrames = 0);

	/** A weighted blend of prompts (weights are normalised by the server). */
	UFUNCTION(BlueprintCallable, Category = "StreamDiffusion Bridge")
	bool SetPromptBlend(const TArray<FSDBridgeWeightedPrompt>& Blend, const FString& NegativePrompt, int32 TransitionFrames = 0);

	/** Only the toggled fields change. */
	UFUNCTION(BlueprintCallable, Category = "StreamDiffusion Bridge")
	bool SetParams(const FSDBridgeParams& Params);

	UFUNCTION(BlueprintCallable, Category = "StreamDiffusion Bridge")
	bool SendGameEvent(const FString& Name, const TMap<FString, FSDBridgeValue>& Payload);

	/** Set game state variables (merged with earlier ones unless bReplaceAll). */
	UFUNCTION(BlueprintCallable, Category = "StreamDiffusion Bridge")
	bool SetState(const TMap<FString, FSDBridgeValue>& Entries, bool bReplaceAll = false);

	/** Ask the server for its counters; they arrive through OnStats. */
	UFUNCTION(BlueprintCallable, Category = "StreamDiffusion Bridge")
	bool RequestStats();

	/** Captures skipped because every GPU readback was still in flight. */
	UFUNCTION(BlueprintPure, Category = "StreamDiffusion Bridge")
	int64 GetSkippedCaptures() const;

	// UActorComponent
	virtual void BeginPlay() override;
	virtual void EndPlay(const EEndPlayReason::Type Reason) override;
	virtual void TickComponent(float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction) override;

private:
	void EnsureCapture();
	void ReportError(const FString& Message);

	TUniquePtr<FSDBridgeStreamer> Streamer;
	ESDBridgeConnectionState LastState = ESDBridgeConnectionState::Stopped;
};
