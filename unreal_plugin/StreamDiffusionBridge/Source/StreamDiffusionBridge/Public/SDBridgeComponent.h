// USDBridgeComponent: drop it on the player's pawn (or controller). It captures the player's view after the
// tonemapper with a scene view extension (or, opt-in, a SceneCapture2D that follows the player camera), streams
// the frames to the StreamDiffusion Bridge server through an FRHIGPUTextureReadback ring (the game thread never
// waits for the GPU), writes each stylized result into one persistent UTexture2D (UpdateTexture2D on the render
// thread) and shows it over the live frame without any asset (post-process composite or viewport overlay).
// Not compiled here: written against Epic's documented UE 5.3-5.5 APIs (see the plugin README).
#pragma once

#include "Components/ActorComponent.h"
#include "CoreMinimal.h"
#include "StreamDiffusionBridgeTypes.h"
#include "SDBridgeDisplay.h"

#include <cstdint>  // uint8_t: sdbridge::CaptureFit's underlying type (forward-declared below)

#include "SDBridgeComponent.generated.h"

class FSDBridgeStreamer;
struct FSDBridgeEvent;  // SDBridgeStreamer.h: HandleEvent's parameter (this header does not include it)
class FSDBridgeViewExtension;
class SSDBridgeViewportOverlay;
class APlayerController;
class UMaterialInstanceDynamic;
class USceneCaptureComponent2D;
class USkeletalMeshComponent;
namespace sdbridge
{
enum class CaptureFit : uint8_t;
}
class UTexture2D;
class UTextureRenderTarget2D;

DECLARE_DYNAMIC_MULTICAST_DELEGATE_TwoParams(FSDBridgeOnResult, UTexture2D*, Texture, const FSDBridgeResultInfo&, Info);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FSDBridgeOnError, const FSDBridgeError&, Error);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_TwoParams(FSDBridgeOnConnectionChanged, ESDBridgeConnectionState, State, const FString&, Message);
DECLARE_DYNAMIC_MULTICAST_DELEGATE(FSDBridgeOnSceneCut);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_FourParams(FSDBridgeOnStats, int64, FramesIn, int64, FramesOut, int64, FramesDropped, float, ServerFps);

UCLASS(ClassGroup = (Rendering), meta = (BlueprintSpawnableComponent, DisplayName = "StreamDiffusion Bridge"))
class STREAMDIFFUSIONBRIDGE_API USDBridgeComponent : public UActorComponent
{
	GENERATED_BODY()

public:
	USDBridgeComponent();
	/**
	 * Declared here and defined in SDBridgeComponent.cpp, where FSDBridgeStreamer is complete: Streamer is a TUniquePtr
	 * to a type this header only forward-declares, and UHT would otherwise generate the destructor and the
	 * FVTableHelper (hot-reload) constructor in SDBridgeComponent.gen.cpp, where that type is incomplete.
	 */
	USDBridgeComponent(FVTableHelper& Helper);
	virtual ~USDBridgeComponent() override;

	// ------------------------------------------------------------------ setup

	/** CaptureSource == SceneCapture only: this capture as it is; if empty at BeginPlay, one is created that follows the player camera. */
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

	// ------------------------------------------------------------------ Capture and display (UE2)
	// Render-thread code in Private/Rendering (not compiled here; see the plugin README).

	/** PlayerView: the player's own view, copied after the tonemapper (no second scene render). SceneCapture: opt-in fallback. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge|Capture")
	ESDBridgeCaptureSource CaptureSource = ESDBridgeCaptureSource::PlayerView;

	/** How the view is scaled to the server's frame size (CaptureWidth x CaptureHeight). PlayerView only; SceneCapture stretches. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge|Capture")
	ESDBridgeCaptureFit CaptureFit = ESDBridgeCaptureFit::Fit;

	/** How the stylized frame is shown. OutputTexture (for materials and UI) is updated in every mode. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge|Display")
	ESDBridgeDisplayMode DisplayMode = ESDBridgeDisplayMode::PostProcessComposite;

	/** 0: the live frame only; 1: the stylized frame only (where it has pixels). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge|Display", meta = (ClampMin = "0", ClampMax = "1"))
	float DisplayOpacity = 1.0f;

	/** Warp the newest result to the current camera with the depth of the frame it depicts (PlayerView + PostProcessComposite). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge|Display")
	bool bReprojectToCurrentCamera = false;

	/** Disocclusion test: relative difference of linear view depth above which a pixel takes the live frame. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge|Display", meta = (ClampMin = "0.001", ClampMax = "0.2"))
	float ReprojectionDepthTolerance = 0.01f;

	/** Sent frames whose camera and depth are kept for reprojection (read at BeginPlay). */
	UPROPERTY(EditAnywhere, BlueprintReadOnly, Category = "StreamDiffusion Bridge|Display", meta = (ClampMin = "2", ClampMax = "32"))
	int32 ReprojectionHistoryFrames = 8;

	/** Frames drawn with the result unwarped (reprojection on) because its frame's camera or depth was no longer kept. */
	UFUNCTION(BlueprintPure, Category = "StreamDiffusion Bridge|Display")
	int64 GetUnreprojectedResults() const;

	// ------------------------------------------------------------------ engine planes, pose, scene cuts, game events
	// Private/SDBridgeEnginePlanes.cpp (not compiled here).

	/** Planes sent with every PlayerView frame for the server's ControlNets (ESDBridgePlanes). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge|Planes",
		meta = (Bitmask, BitmaskEnum = "/Script/StreamDiffusionBridge.ESDBridgePlanes"))
	int32 EnginePlanes = 0;

	/**
	 * Send the planes the server's ControlNets want (the Welcome's wanted planes, then each change the server
	 * announces) instead of EnginePlanes: depth, normals, motion, segmentation (custom stencil) and a control plane
	 * (the pose).
	 */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge|Planes")
	bool bPlanesAsServerAsks = false;

	/** Pose: the skeletal meshes whose bones give the OpenPose image (each one body); empty: the owner's skeletal mesh. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge|Planes")
	TArray<TObjectPtr<USkeletalMeshComponent>> PoseMeshes;

	/**
	 * Pose: the bone of each COCO-18 keypoint, in order (nose, neck, right shoulder, elbow, wrist, left shoulder, elbow,
	 * wrist, right hip, knee, ankle, left hip, knee, ankle, right eye, left eye, right ear, left ear). Defaults: the UE5
	 * Mannequin (SDBridgeEnginePlanes.cpp). None: estimated (neck: the shoulders' midpoint; nose, eyes, ears: from "head").
	 */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge|Planes")
	TArray<FName> PoseBoneNames;

	/** Pose: the Control plane's name, the KIND the server serves the OpenPose ControlNet under. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge|Planes")
	FString PosePlaneName = TEXT("openpose");

	/** A level load is a scene cut. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge|Scene cuts")
	bool bSceneCutOnLevelLoad = true;

	/** A camera move longer than this in one tick (cm) is a scene cut; 0: off. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge|Scene cuts", meta = (ClampMin = "0"))
	float TeleportDistance = 1000.0f;

	/** A camera turn larger than this in one tick (degrees) is a scene cut; 0: off. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge|Scene cuts", meta = (ClampMin = "0", ClampMax = "180"))
	float TeleportAngle = 60.0f;

	/** Raised when a scene cut is signalled or detected (camera cut of the view, level load, teleport). */
	UPROPERTY(BlueprintAssignable, Category = "StreamDiffusion Bridge|Scene cuts")
	FSDBridgeOnSceneCut OnSceneCut;

	/**
	 * The next frame starts a new shot: the server resets the stream's temporal state (protocol 1.4 Frame.scene_cut on
	 * the first capture after the cut). Called automatically on the view's camera cuts (FSceneView::bCameraCut, which
	 * mark that very frame), level loads and teleports; raised as OnSceneCut and counted by GetSceneCuts.
	 */
	UFUNCTION(BlueprintCallable, Category = "StreamDiffusion Bridge|Scene cuts")
	void SignalSceneCut();

	/** Scene cuts signalled or detected since BeginPlay. */
	UFUNCTION(BlueprintPure, Category = "StreamDiffusion Bridge|Scene cuts")
	int64 GetSceneCuts() const { return SceneCuts; }

	/** Offer the GameEvents capability in the Hello, so SendGameEvent reaches the server's rules (read at Connect). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge")
	bool bOfferGameEvents = true;

	// ------------------------------------------------------------------ output

	/** The persistent texture holding the newest stylized frame (re-created only if the size changes). */
	UPROPERTY(VisibleInstanceOnly, BlueprintReadOnly, Transient, Category = "StreamDiffusion Bridge")
	TObjectPtr<UTexture2D> OutputTexture;

	/** Connection state, results/s, round trip and the last error: refreshed every tick from the core's thread-safe snapshot. */
	UPROPERTY(VisibleAnywhere, BlueprintReadOnly, Transient, Category = "StreamDiffusion Bridge|Status")
	FSDBridgeStatus Status;

	UFUNCTION(BlueprintPure, Category = "StreamDiffusion Bridge|Status")
	FSDBridgeStatus GetStatus() const { return Status; }

	/** The render target the SceneCapture fallback writes (created at BeginPlay in that mode only). */
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

	// ------------------------------------------------------------------ style images (protocol 1.4, IP-Adapter servers)
	// Private/SDBridgeComponentStyle.cpp over FSDBridgeStreamer's style API (not compiled here).

	/**
	 * Sends Texture as the style reference image Name and sets its weight in Params.style_blend (0 to 2; the other
	 * styles' weights are kept). Never stalls the game: in the editor an 8-bit source is read on the CPU; otherwise (and
	 * always in a packaged build) the texture is drawn into a small render target and read back asynchronously, sent a
	 * few frames later. Needs Connect first and a server with an IP-Adapter; a refusal arrives through OnError.
	 */
	UFUNCTION(BlueprintCallable, Category = "StreamDiffusion Bridge|Style")
	bool SetStyleFromTexture(FName Name, UTexture2D* Texture, float Weight = 1.0f);

	/**
	 * Named style reference images sent on every Connect through SetStyleFromTexture, in order; their weights are the
	 * starting Params.style_blend (an entry's weight is set once its image is sent, so the image always arrives before
	 * the weight naming it; the client re-sends both after a reconnect). Change them at run time with
	 * SetStyleFromTexture / SetStyleBlend / SetStyleSelection. Entries without a name or texture are reported through
	 * OnError and skipped. Needs a server with an IP-Adapter (otherwise the server's refusal arrives through OnError).
	 */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge|Style")
	TArray<FSDBridgeStyleTexture> StyleTextures;

	/** Sets one style's weight in Params.style_blend (0 turns it off), keeping the other styles' weights. */
	UFUNCTION(BlueprintCallable, Category = "StreamDiffusion Bridge|Style")
	bool SetStyleBlend(FName Name, float Weight);

	/** Replaces the whole Params.style_blend selection: styles not named get no weight. */
	UFUNCTION(BlueprintCallable, Category = "StreamDiffusion Bridge|Style")
	bool SetStyleSelection(const TMap<FName, float>& Weights);

	// UActorComponent
	virtual void BeginPlay() override;
	virtual void EndPlay(const EEndPlayReason::Type Reason) override;
	virtual void TickComponent(float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction) override;

private:
	void ReportError(const FString& Message);
	void RefreshStatus();
	void HandleEvent(const FSDBridgeEvent& Event);

	TUniquePtr<FSDBridgeStreamer> Streamer;

	// Style images: Private/SDBridgeComponentStyle.cpp (the work is FSDBridgeStreamer's, shared with the editor panel).
	void TickStyleImages();
	/** Connect: starts reading every StyleTextures entry (sent by TickStyleImages once read). */
	void SendStyleTextures();

	// Capture and display (UE2): defined in Private/Rendering/SDBridgeComponentDisplay.cpp.
	void StartCaptureAndDisplay();
	void UpdateCaptureAndDisplay();
	void StopCaptureAndDisplay();
	FIntPoint GetCaptureSize() const;
	APlayerController* FindLocalPlayerController() const;
	TSharedPtr<FSDBridgeViewExtension, ESPMode::ThreadSafe> ViewExtension;
	TSharedPtr<SSDBridgeViewportOverlay> Overlay;
	bool bOwnsSceneCapture = false;  // the fallback capture was created here (it then follows the player camera)
	int64 LastResultSourceFrameId = 0;

	// Engine planes, pose and scene cuts: Private/SDBridgeEnginePlanes.cpp.
	void StartSceneCuts();
	void StopSceneCuts();
	void TrackSceneCuts();
	void OnLevelLoaded(UWorld* LoadedWorld);
	/** The pose keypoints of PoseMeshes in capture pixels (18 (x, y) a body; NaN: missing), as the player sees them now. */
	TArray<float> ProjectPoseKeypoints(APlayerController* Controller, FIntPoint TargetSize, sdbridge::CaptureFit Fit) const;
	/** The UE5 Mannequin's bones for the COCO-18 keypoints (PoseBoneNames' default). */
	static TArray<FName> DefaultPoseBoneNames();
	FDelegateHandle LevelLoadedHandle;
	int64 SceneCuts = 0;
	bool bSceneCutPending = false;  // handed to the view extension with the next settings
	uint64 CameraCutsSeen = 0;
	bool bHasLastCamera = false;
	FVector LastCameraLocation = FVector::ZeroVector;
	FVector LastCameraForward = FVector::ForwardVector;
	ESDBridgeConnectionState LastState = ESDBridgeConnectionState::Stopped;
};
