// Not compiled here (no Unreal Engine on the build machines). See SDBridgeViewExtension.h. Other APIs used, as in
// UE 5.3-5.5: FPostProcessMaterialInputs (PostProcess/PostProcessMaterialInputs.h: GetInput returns an
// FScreenPassTextureSlice from 5.4, made a texture with FScreenPassTexture::CopyFromSlice), FSceneTextureShaderParameters
// and FSceneTextureUniformParameters (SceneTexturesConfig.h, through SceneRenderTargetParameters.h), RegisterExternalTexture
// (RenderGraphUtils.h), IStereoRendering::IsAPrimaryView, FRDGBuilder::ConvertToExternalTexture / RegisterExternalTexture,
// ENQUEUE_RENDER_COMMAND.
#include "SDBridgeViewExtension.h"

#include "Engine/Texture2D.h"
#include "PostProcess/PostProcessMaterialInputs.h"
#include "RenderGraphBuilder.h"
#include "RenderGraphUtils.h"
#include "RenderingThread.h"
#include "SDBridgePasses.h"
#include "SDBridgePlanePasses.h"
#include "SDBridgeReadbackRing.h"
#include "SDBridgeStreamer.h"
#include "SceneRenderTargetParameters.h"
#include "SceneView.h"
#include "StereoRendering.h"
#include "StreamDiffusionBridgeModule.h"
#include "TextureResource.h"
#include "sdbridge/client.h"

namespace
{
/** Orthographic views: their depth test compares NDC depth (linear in view depth there) with this tolerance. */
constexpr double OrthographicNdcTolerance = 1e-3;

FScreenPassTexture SceneColorOf(FRDGBuilder& GraphBuilder, const FPostProcessMaterialInputs& Inputs)
{
#if SDB_POSTPROCESS_INPUTS_ARE_SLICES
	return FScreenPassTexture::CopyFromSlice(GraphBuilder, Inputs.GetInput(EPostProcessMaterialInput::SceneColor));
#else
	return Inputs.GetInput(EPostProcessMaterialInput::SceneColor);
#endif
}

/**
 * This frame's scene depth texture (render resolution; null on the mobile renderer, whose inputs carry
 * MobileSceneTextures instead). FSceneTextureShaderParameters::SceneTextures is a TRDGUniformBufferRef: its
 * parameters are read with GetContents() (RenderGraphResources.h, UE 5.3-5.5; GetParameters() returns the RDG
 * parameter-struct wrapper, not the struct). The view's rectangle in it (FViewInfo::ViewRect) is not public on
 * FSceneView: the shaders read it from the View uniform buffer.
 */
FRDGTextureRef SceneDepthOf(const FPostProcessMaterialInputs& Inputs)
{
	return Inputs.SceneTextures.SceneTextures ? Inputs.SceneTextures.SceneTextures->GetContents()->SceneDepthTexture : nullptr;
}

FScreenPassRenderTarget NewOutputLike(FRDGBuilder& GraphBuilder, const FScreenPassTexture& SceneColor)
{
	const FRDGTextureDesc Desc = FRDGTextureDesc::Create2D(SceneColor.Texture->Desc.Extent, SceneColor.Texture->Desc.Format,
		FClearValueBinding::Black, TexCreate_RenderTargetable | TexCreate_ShaderResource);
	return FScreenPassRenderTarget(GraphBuilder.CreateTexture(Desc, TEXT("SDBridge.CompositeOutput")), SceneColor.ViewRect,
		ERenderTargetLoadAction::ENoAction);
}
}  // namespace

FSDBridgeViewExtension::FSDBridgeViewExtension(const FAutoRegister& AutoRegister, UWorld* InWorld, int32 HistoryCapacity)
	: FWorldSceneViewExtension(AutoRegister, InWorld)
	, History(static_cast<size_t>(FMath::Max(HistoryCapacity, 2)))
{
}

void FSDBridgeViewExtension::Update_GameThread(const FSDBridgeViewSettings& Settings, UTexture2D* Result)
{
	check(IsInGameThread());
	bActive.store(Settings.bCapture || Settings.bComposite, std::memory_order_relaxed);
	FTextureResource* ResultResource = Result != nullptr ? Result->GetResource() : nullptr;
	ENQUEUE_RENDER_COMMAND(SDBridgeUpdateViewExtension)(
		[Self = StaticCastSharedRef<FSDBridgeViewExtension>(AsShared()), Settings, ResultResource](FRHICommandListImmediate&)
		{
			const bool bSourceChanged = Self->RenderSettings.Ring != Settings.Ring || Self->RenderSettings.bCapture != Settings.bCapture;
			Self->RenderSettings = Settings;
			Self->bPendingSceneCut |= Settings.bSceneCut;  // kept until a capture carries it
			// The resource is alive here: a replaced texture releases its resource with a later render command.
			Self->ResultRHI = ResultResource != nullptr ? ResultResource->TextureRHI : FTextureRHIRef();
			if (bSourceChanged)
			{
				Self->History.Clear();  // another ring (reconnect) or the capture stopped: pending captures are gone
			}
		});
}

void FSDBridgeViewExtension::Shutdown_GameThread()
{
	check(IsInGameThread());
	bActive.store(false, std::memory_order_relaxed);
	ENQUEUE_RENDER_COMMAND(SDBridgeShutdownViewExtension)(
		[Self = StaticCastSharedRef<FSDBridgeViewExtension>(AsShared())](FRHICommandListImmediate&)
		{
			Self->RenderSettings = FSDBridgeViewSettings();  // drops the client and the ring on the render thread
			Self->ResultRHI.SafeRelease();
			Self->History.Clear();
		});
}

bool FSDBridgeViewExtension::IsActiveThisFrame_Internal(const FSceneViewExtensionContext& Context) const
{
	return bActive.load(std::memory_order_relaxed) && FWorldSceneViewExtension::IsActiveThisFrame_Internal(Context);
}

#if SDB_SVE_SUBSCRIBE_TAKES_VIEW
void FSDBridgeViewExtension::SubscribeToPostProcessingPass(EPostProcessingPass Pass, const FSceneView& InView,
	FAfterPassCallbackDelegateArray& InOutPassCallbacks, bool bIsPassEnabled)
#else
void FSDBridgeViewExtension::SubscribeToPostProcessingPass(EPostProcessingPass Pass, FAfterPassCallbackDelegateArray& InOutPassCallbacks,
	bool bIsPassEnabled)
#endif
{
	// After the tonemapper the scene colour is LDR and display-encoded: what the player sees and what the server expects.
	if (Pass == EPostProcessingPass::Tonemap && bIsPassEnabled)
	{
		InOutPassCallbacks.Add(FAfterPassCallbackDelegate::CreateRaw(this, &FSDBridgeViewExtension::AfterTonemap_RenderThread));
	}
}

bool FSDBridgeViewExtension::IsPlayerView(const FSceneView& View) const
{
	return !View.bIsSceneCapture && !View.bIsReflectionCapture && !View.bIsPlanarReflection &&
		View.PlayerIndex == RenderSettings.PlayerIndex;
}

FScreenPassTexture FSDBridgeViewExtension::AfterTonemap_RenderThread(FRDGBuilder& GraphBuilder, const FSceneView& View,
	const FPostProcessMaterialInputs& Inputs)
{
	const FScreenPassTexture SceneColor = SceneColorOf(GraphBuilder, Inputs);
	const bool bPlayerView = IsPlayerView(View);
	if (bPlayerView && View.bCameraCut && IStereoRendering::IsAPrimaryView(View))
	{
		CameraCuts.fetch_add(1, std::memory_order_relaxed);  // the component raises OnSceneCut from the count
		bPendingSceneCut = true;                             // this very frame's capture carries it
	}
	// Stereo: only the primary eye is sent (the composite draws over both; with reprojection each eye is warped).
	if (bPlayerView && RenderSettings.bCapture && IStereoRendering::IsAPrimaryView(View))
	{
		Capture_RenderThread(GraphBuilder, View, Inputs, SceneColor);
	}
	const bool bComposite = bPlayerView && RenderSettings.bComposite;
	if (bComposite || Inputs.OverrideOutput.IsValid())
	{
		// The last pass of the chain must write the override output (the back buffer): at opacity 0 the
		// composite is a copy of the live frame.
		return Composite_RenderThread(GraphBuilder, View, Inputs, SceneColor, bComposite ? RenderSettings.Opacity : 0.0f);
	}
	return SceneColor;
}

void FSDBridgeViewExtension::Capture_RenderThread(FRDGBuilder& GraphBuilder, const FSceneView& View,
	const FPostProcessMaterialInputs& Inputs, const FScreenPassTexture& SceneColor)
{
	const FSDBridgeViewSettings& S = RenderSettings;
	if (!S.Client || !S.Ring)
	{
		return;
	}
	// 1) The newest finished copy goes to the client, which assigns its frame id (latest frame wins).
	sdbridge::Client& Client = *S.Client;
	uint64 SubmittedTimeUs = 0;
	uint64 SubmittedFrameId = 0;
	const int32 Freed = S.Ring->ConsumeReady([&Client, &SubmittedTimeUs, &SubmittedFrameId](const FSDBridgeReadbackView& Ready)
	{
		SubmittedTimeUs = Ready.CaptureTimeUs;
		SubmittedFrameId = FSDBridgeStreamer::SubmitReadback(Client, Ready);
	});
	History.Retire(static_cast<size_t>(FMath::Max(Freed, 0)), SubmittedTimeUs, SubmittedFrameId);

	// 2) Only what the server can take now (zero timeout: a poll, never a wait), one copy per credit not spoken for:
	// each capture is sent as soon as its readback completes, never stale, never replaced before sending.
	if (!Client.WaitUntilReadyToSend(std::chrono::milliseconds(0)) ||
		!sdbridge::CaptureAllowed(Client.GetCounters().credits, History.pending()))
	{
		return;
	}

	// 3) Scale the view into the server's frame size and queue the GPU -> CPU copy (skipped, never waited for).
	const FIntPoint ViewSize = SceneColor.ViewRect.Size();
	sdbridge::CaptureMapping Mapping;
	const sdbridge::Status Status = sdbridge::ComputeCaptureMapping(S.Fit, static_cast<uint32>(ViewSize.X),
		static_cast<uint32>(ViewSize.Y), static_cast<uint32>(S.TargetSize.X), static_cast<uint32>(S.TargetSize.Y), &Mapping);
	if (!Status.ok())
	{
		UE_CLOG(!bWarnedMapping, LogStreamDiffusionBridge, Warning, TEXT("player-view capture skipped: %s"),
			UTF8_TO_TCHAR(Status.message().c_str()));
		bWarnedMapping = true;
		return;
	}
	FRDGTextureRef Target = SDBridgeRendering::AddCapturePass(GraphBuilder, View, SceneColor, Mapping, S.TargetSize);
	const uint64 CaptureTimeUs = sdbridge::NowMicros();
	TArray<FSDBridgePlaneCopy> Planes;
	for (const FSDBridgePlaneTexture& Plane : SDBridgeRendering::AddPlanePasses(GraphBuilder, View,
			 Inputs.SceneTextures.SceneTextures, Mapping, S.TargetSize, S.Planes))
	{
		Planes.Add(FSDBridgePlaneCopy{Plane.Texture, Plane.Desc});
	}
	TArray<float> Pose = (S.Planes & SDBridgePlaneBits::Pose) != 0u ? S.PoseKeypoints : TArray<float>();
	if (!S.Ring->EnqueueCopy(GraphBuilder, Target, CaptureTimeUs, Planes, MoveTemp(Pose), S.PoseName, bPendingSceneCut))
	{
		return;  // every readback still in flight: counted by the ring as a skipped capture
	}
	bPendingSceneCut = false;
	const FSDBridgeViewCamera Camera = SDBridgeRendering::DescribeView(View);
	FSDBridgeFrameExtras Extras;
	Extras.bPerspective = Camera.bPerspective;
	Extras.Mapping = Mapping;
	const FRDGTextureRef Depth = SceneDepthOf(Inputs);
	if (S.bReproject && Depth != nullptr)
	{
		// Kept as an RDG-external pooled texture until the frame id leaves the history.
		Extras.Depth = GraphBuilder.ConvertToExternalTexture(SDBridgeRendering::AddDepthCopyPass(GraphBuilder, View, Depth, S.TargetSize));
	}
	History.AddPending(CaptureTimeUs, Camera.Camera, MoveTemp(Extras));
}

FScreenPassTexture FSDBridgeViewExtension::Composite_RenderThread(FRDGBuilder& GraphBuilder, const FSceneView& View,
	const FPostProcessMaterialInputs& Inputs, const FScreenPassTexture& SceneColor, float Opacity)
{
	SDBridgeRendering::FSDBridgeCompositeInputs In;
	In.Live = SceneColor;
	In.Output = Inputs.OverrideOutput.IsValid() ? Inputs.OverrideOutput : NewOutputLike(GraphBuilder, SceneColor);
	if (Opacity <= 0.0f || !ResultRHI.IsValid())
	{
		In.Opacity = 0.0f;  // no result yet (or hidden): the live frame
		return SDBridgeRendering::AddCompositePass(GraphBuilder, View, In);
	}
	In.Result = RegisterExternalTexture(GraphBuilder, ResultRHI.GetReference(), TEXT("SDBridge.Result"));
	In.bResultIsLinear = EnumHasAnyFlags(ResultRHI->GetDesc().Flags, TexCreate_SRGB);  // FRHITextureDesc (5.1+)
	In.Opacity = Opacity;

	sdbridge::CameraFrame DepictedCamera;
	const FSDBridgeFrameExtras* Depicted = History.Find(RenderSettings.ResultSourceFrameId, &DepictedCamera);
	if (Depicted != nullptr)
	{
		In.Mapping = Depicted->Mapping;  // as that frame was captured
	}
	else
	{
		const FIntPoint ViewSize = SceneColor.ViewRect.Size();
		const FIntPoint ResultSize = ResultRHI->GetDesc().Extent;
		sdbridge::ComputeCaptureMapping(RenderSettings.Fit, static_cast<uint32>(FMath::Max(ViewSize.X, 1)),
			static_cast<uint32>(FMath::Max(ViewSize.Y, 1)), static_cast<uint32>(FMath::Max(ResultSize.X, 1)),
			static_cast<uint32>(FMath::Max(ResultSize.Y, 1)), &In.Mapping);  // on failure In.Mapping stays Stretch
	}
	if (RenderSettings.bReproject)
	{
		const FRDGTextureRef CurrentDepth = SceneDepthOf(Inputs);
		const std::optional<sdbridge::Mat4> Reprojection = (Depicted != nullptr && Depicted->Depth.IsValid())
			? sdbridge::ReprojectionMatrix(DepictedCamera.view_proj, SDBridgeRendering::DescribeView(View).Camera.view_proj)
			: std::nullopt;
		if (Reprojection.has_value() && CurrentDepth != nullptr)
		{
			In.bReproject = true;
			In.Reprojection = *Reprojection;
			In.CurrentDepth = CurrentDepth;
			In.SourceDepth = GraphBuilder.RegisterExternalTexture(Depicted->Depth);
			In.DepthTest.space = Depicted->bPerspective ? sdbridge::DepthTest::Space::kLinearRelative
				: sdbridge::DepthTest::Space::kNdcAbsolute;
			In.DepthTest.tolerance = Depicted->bPerspective ? static_cast<double>(RenderSettings.DepthTolerance) : OrthographicNdcTolerance;
			In.DepthTest.linearizer = DepictedCamera.linearizer;
		}
		else
		{
			Unreprojected.fetch_add(1, std::memory_order_relaxed);  // shown as it is, where it was captured
		}
	}
	return SDBridgeRendering::AddCompositePass(GraphBuilder, View, In);
}
