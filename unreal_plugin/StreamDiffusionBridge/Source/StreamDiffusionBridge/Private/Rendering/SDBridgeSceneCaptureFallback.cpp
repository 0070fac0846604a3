// Not compiled here (no Unreal Engine on the build machines). See SDBridgeSceneCaptureFallback.h.
#include "SDBridgeSceneCaptureFallback.h"

#include "Camera/CameraTypes.h"
#include "Camera/PlayerCameraManager.h"
#include "Components/SceneCaptureComponent2D.h"
#include "Engine/TextureRenderTarget2D.h"
#include "GameFramework/Actor.h"
#include "GameFramework/PlayerController.h"
#include "Math/PerspectiveMatrix.h"
#include "UObject/UObjectGlobals.h"

namespace SDBridgeRendering
{
USceneCaptureComponent2D* CreateFollowingCapture(AActor* Owner, UTextureRenderTarget2D* Target)
{
	check(IsInGameThread());
	if (Owner == nullptr || Target == nullptr)
	{
		return nullptr;
	}
	USceneCaptureComponent2D* Capture = NewObject<USceneCaptureComponent2D>(
		Owner, MakeUniqueObjectName(Owner, USceneCaptureComponent2D::StaticClass(), TEXT("SDBridgeFollowCapture")));
	Capture->SetUsingAbsoluteLocation(true);  // placed at the camera every tick, not at the actor's root
	Capture->SetUsingAbsoluteRotation(true);
	Capture->CaptureSource = ESceneCaptureSource::SCS_FinalColorLDR;  // tone-mapped, as the player sees it
	Capture->TextureTarget = Target;
	Capture->bCaptureEveryFrame = false;  // FollowPlayerCamera turns it on only while connected
	Capture->bCaptureOnMovement = false;
	Capture->RegisterComponent();
	Owner->AddInstanceComponent(Capture);
	return Capture;
}

void FollowPlayerCamera(USceneCaptureComponent2D* Capture, const APlayerController* Player, bool bCapture)
{
	check(IsInGameThread());
	if (Capture == nullptr)
	{
		return;
	}
	const APlayerCameraManager* Camera = Player != nullptr ? Player->PlayerCameraManager.Get() : nullptr;
	Capture->bCaptureEveryFrame = bCapture && Camera != nullptr;  // never while disconnected
	if (!Capture->bCaptureEveryFrame)
	{
		return;
	}
	const FMinimalViewInfo& POV = Camera->GetCameraCacheView();
	Capture->SetWorldLocationAndRotation(POV.Location, POV.Rotation);
	Capture->FOVAngle = POV.FOV;
	int32 ViewX = 0;
	int32 ViewY = 0;
	Player->GetViewportSize(ViewX, ViewY);
	const float Aspect = POV.bConstrainAspectRatio || ViewY <= 0 ? POV.AspectRatio : static_cast<float>(ViewX) / static_cast<float>(ViewY);
	// The player's horizontal FOV and aspect (UE's reversed-Z projection, as FMinimalViewInfo builds it), drawn into the
	// server-sized target: the whole view, stretched (the Stretch mapping of capture_fit.h).
	const float HalfFovRadians = FMath::DegreesToRadians(FMath::Max(0.001f, POV.FOV) * 0.5f);
	Capture->bUseCustomProjectionMatrix = true;
	Capture->CustomProjectionMatrix = FReversedZPerspectiveMatrix(
		HalfFovRadians, FMath::Max(Aspect, 0.01f), 1.0f, POV.GetFinalPerspectiveNearClipPlane());
}
}  // namespace SDBridgeRendering
