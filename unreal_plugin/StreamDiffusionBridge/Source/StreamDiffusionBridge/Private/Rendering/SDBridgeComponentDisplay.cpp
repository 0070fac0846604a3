// USDBridgeComponent's capture and display: the members declared in the "Capture and
// display (UE2)" block of SDBridgeComponent.h. Game thread. NOT compiled here (no Unreal Engine on the build
// machines); UE 5.3-5.5 API: FSceneViewExtensions::NewExtension, APawn::GetController,
// APlayerController::IsLocalController / GetLocalPlayer / GetViewportSize, ULocalPlayer::GetControllerId (the
// FSceneView::PlayerIndex of that player's view), UTextureRenderTarget2D (RTF_RGBA8_SRGB, InitAutoFormat),
// UGameplayStatics::GetPlayerController, MakeUniqueObjectName.
#include "SDBridgeComponent.h"

#include "Components/SceneCaptureComponent2D.h"
#include "Engine/LocalPlayer.h"
#include "Engine/Texture2D.h"
#include "Engine/TextureRenderTarget2D.h"
#include "GameFramework/Pawn.h"
#include "GameFramework/PlayerController.h"
#include "Kismet/GameplayStatics.h"
#include "SDBridgeSceneCaptureFallback.h"
#include "SDBridgeStreamer.h"
#include "SDBridgePlanePasses.h"
#include "SDBridgeViewExtension.h"
#include "SSDBridgeViewportOverlay.h"
#include "SceneViewExtension.h"
#include "StreamDiffusionBridgeSettings.h"
#include "sdbridge/capture_fit.h"
#include "sdbridge/client.h"  // complete sdbridge::Client: Streamer->GetClient()->GetWantedPlanes()

namespace
{
sdbridge::CaptureFit ToCore(ESDBridgeCaptureFit Fit)
{
	switch (Fit)
	{
	case ESDBridgeCaptureFit::Crop: return sdbridge::CaptureFit::kCrop;
	case ESDBridgeCaptureFit::Stretch: return sdbridge::CaptureFit::kStretch;
	case ESDBridgeCaptureFit::Fit:
	default: return sdbridge::CaptureFit::kFit;
	}
}
/** Add, remove or refresh the viewport overlay; it shows only the part of Result that holds the picture (no bars). */
void UpdateOverlay(TSharedPtr<SSDBridgeViewportOverlay>& Overlay, bool bWanted, APlayerController* Controller, UTexture2D* Result,
	sdbridge::CaptureFit Fit, float Opacity)
{
	ULocalPlayer* Player = Controller != nullptr ? Controller->GetLocalPlayer() : nullptr;
	if (bWanted && !Overlay && Player != nullptr)
	{
		Overlay = SSDBridgeViewportOverlay::AddToPlayer(Player);
	}
	else if (!bWanted && Overlay)
	{
		Overlay->RemoveFromPlayer();
		Overlay.Reset();
	}
	if (!Overlay)
	{
		return;
	}
	if (Result == nullptr || Controller == nullptr)
	{
		Overlay->SetImage(nullptr, FVector4f(0.0f, 0.0f, 1.0f, 1.0f), 0.0f);  // no result yet: the live frame
		return;
	}
	int32 ViewX = 0;
	int32 ViewY = 0;
	Controller->GetViewportSize(ViewX, ViewY);
	sdbridge::CaptureMapping Mapping;
	if (!sdbridge::ComputeCaptureMapping(Fit, static_cast<uint32>(FMath::Max(ViewX, 1)), static_cast<uint32>(FMath::Max(ViewY, 1)),
			static_cast<uint32>(FMath::Max(Result->GetSizeX(), 1)), static_cast<uint32>(FMath::Max(Result->GetSizeY(), 1)), &Mapping)
			 .ok())
	{
		Mapping = sdbridge::CaptureMapping();  // the whole image
	}
	const sdbridge::UvRect& D = Mapping.dest;
	Overlay->SetImage(Result, FVector4f(static_cast<float>(D.min_u), static_cast<float>(D.min_v), static_cast<float>(D.max_u),
		static_cast<float>(D.max_v)), Opacity);
}
}  // namespace

FIntPoint USDBridgeComponent::GetCaptureSize() const
{
	const USDBridgeSettings* Settings = USDBridgeSettings::Get();
	return FIntPoint(CaptureWidthOverride > 0 ? CaptureWidthOverride : Settings->CaptureWidth,
		CaptureHeightOverride > 0 ? CaptureHeightOverride : Settings->CaptureHeight);
}

APlayerController* USDBridgeComponent::FindLocalPlayerController() const
{
	AActor* Owner = GetOwner();
	APlayerController* Controller = Cast<APlayerController>(Owner);
	if (Controller == nullptr)
	{
		if (const APawn* Pawn = Cast<APawn>(Owner))
		{
			Controller = Cast<APlayerController>(Pawn->GetController());
		}
	}
	if (Controller == nullptr)
	{
		Controller = UGameplayStatics::GetPlayerController(this, 0);  // e.g. on a level actor: the first local player
	}
	return Controller != nullptr && Controller->IsLocalController() ? Controller : nullptr;
}

void USDBridgeComponent::StartCaptureAndDisplay()
{
	if (UWorld* World = GetWorld())
	{
		ViewExtension = FSceneViewExtensions::NewExtension<FSDBridgeViewExtension>(World, ReprojectionHistoryFrames);
	}
	if (CaptureSource != ESDBridgeCaptureSource::SceneCapture)
	{
		return;  // the player-view capture needs no render target of its own
	}
	const FIntPoint Size = GetCaptureSize();
	CaptureTarget = NewObject<UTextureRenderTarget2D>(
		this, MakeUniqueObjectName(this, UTextureRenderTarget2D::StaticClass(), TEXT("SDBridgeCaptureTarget")));
	CaptureTarget->RenderTargetFormat = RTF_RGBA8_SRGB;  // 8-bit sRGB: what the server expects (SRGB colour space)
	CaptureTarget->ClearColor = FLinearColor::Black;
	CaptureTarget->InitAutoFormat(Size.X, Size.Y);
	CaptureTarget->UpdateResourceImmediate(true);
	if (SceneCapture == nullptr)
	{
		SceneCapture = SDBridgeRendering::CreateFollowingCapture(GetOwner(), CaptureTarget);
		bOwnsSceneCapture = SceneCapture != nullptr;
	}
	else
	{
		// A capture the user placed: used where it is, only while connected (UpdateCaptureAndDisplay).
		SceneCapture->CaptureSource = ESceneCaptureSource::SCS_FinalColorLDR;
		SceneCapture->TextureTarget = CaptureTarget;
		SceneCapture->bCaptureEveryFrame = false;
		SceneCapture->bCaptureOnMovement = false;
	}
	if (SceneCapture == nullptr)
	{
		ReportError(TEXT("CaptureSource is SceneCapture but no SceneCapture2D could be created: put the component on an actor"));
	}
}

void USDBridgeComponent::UpdateCaptureAndDisplay()
{
	const bool bConnected = Streamer && Streamer->GetState() == ESDBridgeConnectionState::Connected;
	APlayerController* Controller = FindLocalPlayerController();
	ULocalPlayer* Player = Controller != nullptr ? Controller->GetLocalPlayer() : nullptr;
	const bool bFallback = CaptureSource == ESDBridgeCaptureSource::SceneCapture;
	if (bFallback && SceneCapture != nullptr)
	{
		if (bOwnsSceneCapture)
		{
			SDBridgeRendering::FollowPlayerCamera(SceneCapture, Controller, bConnected);
		}
		else
		{
			SceneCapture->bCaptureEveryFrame = bConnected;  // never renders while disconnected
		}
	}
	if (ViewExtension)
	{
		FSDBridgeViewSettings Settings;
		Settings.bCapture = bConnected && !bFallback && Player != nullptr;
		// Nothing to draw before the first result (the live frame is shown as it is) or after Disconnect.
		Settings.bComposite = Streamer && OutputTexture != nullptr && DisplayMode == ESDBridgeDisplayMode::PostProcessComposite &&
			Player != nullptr;
		Settings.bReproject = bReprojectToCurrentCamera && !bFallback;
		Settings.Opacity = FMath::Clamp(DisplayOpacity, 0.0f, 1.0f);
		Settings.DepthTolerance = ReprojectionDepthTolerance;
		Settings.Fit = bFallback ? sdbridge::CaptureFit::kStretch : ToCore(CaptureFit);
		Settings.TargetSize = GetCaptureSize();
		Settings.PlayerIndex = Player != nullptr ? Player->GetControllerId() : 0;
		Settings.ResultSourceFrameId = static_cast<uint64>(LastResultSourceFrameId);
		uint32 Planes = static_cast<uint32>(EnginePlanes);
		if (bPlanesAsServerAsks && Streamer && Streamer->GetClient())
		{
			Planes = SDBridgePlaneBitsFor(Streamer->GetClient()->GetWantedPlanes());  // the Welcome's, then live changes
		}
		Settings.Planes = Settings.bCapture ? Planes : 0u;
		Settings.PoseName = PosePlaneName;
		Settings.bSceneCut = bSceneCutPending;  // the render thread keeps it until a capture carries it
		bSceneCutPending = false;
		if ((Settings.Planes & static_cast<uint32>(ESDBridgePlanes::Pose)) != 0u)
		{
			Settings.PoseKeypoints = ProjectPoseKeypoints(Controller, Settings.TargetSize, Settings.Fit);  // this tick's bones and camera
		}
		if (Streamer)
		{
			Settings.Client = Streamer->GetClient();
			Settings.Ring = Streamer->GetReadbackRing();
		}
		ViewExtension->Update_GameThread(Settings, OutputTexture);
	}

	const bool bOverlay = Streamer && DisplayMode == ESDBridgeDisplayMode::ViewportOverlay && Player != nullptr;
	UpdateOverlay(Overlay, bOverlay, Controller, OutputTexture, bFallback ? sdbridge::CaptureFit::kStretch : ToCore(CaptureFit),
		DisplayOpacity);
}

void USDBridgeComponent::StopCaptureAndDisplay()
{
	if (ViewExtension)
	{
		ViewExtension->Shutdown_GameThread();  // the engine keeps the extension alive until the frame in flight is done
		ViewExtension.Reset();
	}
	if (Overlay)
	{
		Overlay->RemoveFromPlayer();
		Overlay.Reset();
	}
	if (SceneCapture != nullptr)
	{
		SceneCapture->bCaptureEveryFrame = false;
	}
}

int64 USDBridgeComponent::GetUnreprojectedResults() const
{
	return ViewExtension ? static_cast<int64>(ViewExtension->GetUnreprojectedResults()) : 0;
}
