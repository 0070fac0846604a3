// FSDBridgeViewExtension: one per USDBridgeComponent. In the post-process chain, right after the tonemapper
// (LDR, display-encoded sRGB), for the component's player view only:
//   1. capture: hands the newest finished GPU readback to the client, then - when the server can take another
//      frame - scales the view's colour to the server's size (Fit / Crop / Stretch) and queues its copy in the
//      readback ring (FRHIGPUTextureReadback, never waited for); with reprojection on it also keeps a copy of
//      the view's depth and its camera for that frame (FSDBridgeFrameHistory);
//      with engine planes on (Settings.Planes, SDBridgePlanePasses.h) it draws the view's depth, normals, motion and
//      custom stencil at the server's size and queues their copies with the colour; the pose keypoints the game
//      thread projected ride with the capture and the core draws their OpenPose image when the frame is submitted;
//      a camera cut of the view (FSceneView::bCameraCut) is counted for the component's scene-cut signal;
//   2. composite: draws the newest result over the live frame with an opacity, reprojected to the current camera
//      when enabled; the live frame alone while no result has arrived.
// The extension is active (IsActiveThisFrame) only in the component's world and only while it has work: the
// capture runs only while connected. Threads: Update_GameThread copies the component's settings to the render
// thread with ENQUEUE_RENDER_COMMAND; everything else runs on the render thread while the graph is built.
//
// NOT compiled here (no Unreal Engine on the build machines). Written against UE 5.3-5.5 SceneViewExtension.h:
// FWorldSceneViewExtension, FSceneViewExtensions::NewExtension, SubscribeToPostProcessingPass (UE 5.5 added the
// const FSceneView& parameter and deprecated the old signature; both are handled below), FAfterPassCallbackDelegate
// (5.5 renamed it FPostProcessingPassDelegate and kept the old name as an alias).
#pragma once

#include "CoreMinimal.h"
#include "RHIResources.h"
#include "Runtime/Launch/Resources/Version.h"
#include "SDBridgeFrameHistory.h"
#include "SceneViewExtension.h"
#include "ScreenPass.h"
#include "sdbridge/capture_fit.h"

#include <atomic>
#include <memory>

#define SDB_SVE_SUBSCRIBE_TAKES_VIEW (ENGINE_MAJOR_VERSION > 5 || (ENGINE_MAJOR_VERSION == 5 && ENGINE_MINOR_VERSION >= 5))
#define SDB_POSTPROCESS_INPUTS_ARE_SLICES (ENGINE_MAJOR_VERSION > 5 || (ENGINE_MAJOR_VERSION == 5 && ENGINE_MINOR_VERSION >= 4))

class FSDBridgeReadbackRing;
class UTexture2D;
struct FPostProcessMaterialInputs;
namespace sdbridge
{
class Client;
}

/** What the component wants this frame (game thread -> render thread, copied every tick). */
struct FSDBridgeViewSettings
{
	bool bCapture = false;    // connected and CaptureSource == PlayerView
	bool bComposite = false;  // DisplayMode == PostProcessComposite
	bool bReproject = false;
	float Opacity = 1.0f;
	float DepthTolerance = 0.01f;  // relative, in linear view depth (sdbridge::DepthTest::kLinearRelative)
	sdbridge::CaptureFit Fit = sdbridge::CaptureFit::kFit;  // also how results are mapped back
	FIntPoint TargetSize = FIntPoint(512, 512);             // the server's frame size
	int32 PlayerIndex = 0;                                  // FSceneView::PlayerIndex of the player's view
	uint64 ResultSourceFrameId = 0;                         // the frame the newest result depicts
	uint32 Planes = 0;                                      // SDBridgePlaneBits of the engine planes to send
	TArray<float> PoseKeypoints;                            // capture pixels, 18 (x, y) a body; empty: no pose
	FString PoseName = TEXT("openpose");                    // the pose Control plane's name
	bool bSceneCut = false;                                 // a scene cut since the last settings (game thread's signal)
	std::shared_ptr<sdbridge::Client> Client;
	TSharedPtr<FSDBridgeReadbackRing, ESPMode::ThreadSafe> Ring;
};

class FSDBridgeViewExtension : public FWorldSceneViewExtension
{
public:
	// InWorld, not World: a parameter named World would hide FWorldSceneViewExtension's private member World (MSVC
	// C4458, an error under UE's default ShadowVariableWarningLevel); the engine's own subclasses name it InWorld.
	FSDBridgeViewExtension(const FAutoRegister& AutoRegister, UWorld* InWorld, int32 HistoryCapacity);

	/** Game thread, every tick. Result: the component's OutputTexture (null until the first result). */
	void Update_GameThread(const FSDBridgeViewSettings& Settings, UTexture2D* Result);
	/** Game thread: stop all work and release the render-thread state (the capture ring and client included). */
	void Shutdown_GameThread();
	/** Frames drawn with the result unwarped because its frame's depth or camera was no longer kept (any thread). */
	uint64 GetUnreprojectedResults() const { return Unreprojected.load(std::memory_order_relaxed); }
	/** Camera cuts (FSceneView::bCameraCut) of the player view seen by the render thread so far (any thread). */
	uint64 GetCameraCuts() const { return CameraCuts.load(std::memory_order_relaxed); }

	// ISceneViewExtension (pure virtual in UE 5.3-5.4, defaulted in 5.5)
	virtual void SetupViewFamily(FSceneViewFamily& InViewFamily) override {}
	virtual void SetupView(FSceneViewFamily& InViewFamily, FSceneView& InView) override {}
	virtual void BeginRenderViewFamily(FSceneViewFamily& InViewFamily) override {}
#if SDB_SVE_SUBSCRIBE_TAKES_VIEW
	virtual void SubscribeToPostProcessingPass(EPostProcessingPass Pass, const FSceneView& InView,
		FAfterPassCallbackDelegateArray& InOutPassCallbacks, bool bIsPassEnabled) override;
#else
	virtual void SubscribeToPostProcessingPass(EPostProcessingPass Pass, FAfterPassCallbackDelegateArray& InOutPassCallbacks,
		bool bIsPassEnabled) override;
#endif

protected:
	virtual bool IsActiveThisFrame_Internal(const FSceneViewExtensionContext& Context) const override;

private:
	FScreenPassTexture AfterTonemap_RenderThread(FRDGBuilder& GraphBuilder, const FSceneView& View,
		const FPostProcessMaterialInputs& Inputs);
	void Capture_RenderThread(FRDGBuilder& GraphBuilder, const FSceneView& View, const FPostProcessMaterialInputs& Inputs,
		const FScreenPassTexture& SceneColor);
	FScreenPassTexture Composite_RenderThread(FRDGBuilder& GraphBuilder, const FSceneView& View,
		const FPostProcessMaterialInputs& Inputs, const FScreenPassTexture& SceneColor, float Opacity);
	bool IsPlayerView(const FSceneView& View) const;

	std::atomic<bool> bActive{false};
	std::atomic<uint64> Unreprojected{0};
	std::atomic<uint64> CameraCuts{0};

	// Render thread only.
	FSDBridgeViewSettings RenderSettings;
	FTextureRHIRef ResultRHI;
	FSDBridgeFrameHistory History;
	bool bWarnedMapping = false;
	bool bPendingSceneCut = false;  // the next capture starts a new shot (a signal or the view's camera cut)
};
