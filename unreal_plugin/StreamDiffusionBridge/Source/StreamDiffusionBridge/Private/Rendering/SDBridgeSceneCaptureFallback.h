// The opt-in SceneCapture fallback (ESDBridgeCaptureSource::SceneCapture): a SceneCapture2D that follows the
// player camera (APlayerCameraManager: location, rotation, FOV and the view's aspect) and captures only while
// connected. It renders the scene a second time: use it only where the player-view capture cannot run.
// Its frame is the player's whole view stretched to the server's size (the Stretch mapping), whatever CaptureFit says.
// Game thread only. NOT compiled here (no Unreal Engine on the build machines); UE 5.3-5.5 API:
// USceneCaptureComponent2D (CaptureSource, TextureTarget, bCaptureEveryFrame, bUseCustomProjectionMatrix,
// CustomProjectionMatrix), APlayerCameraManager::GetCameraCacheView, FMinimalViewInfo::GetFinalPerspectiveNearClipPlane,
// FReversedZPerspectiveMatrix (Math/PerspectiveMatrix.h).
#pragma once

#include "CoreMinimal.h"

class AActor;
class APlayerController;
class USceneCaptureComponent2D;
class UTextureRenderTarget2D;

namespace SDBridgeRendering
{
/** A new capture on Owner, not attached to anything (it is moved to the camera every tick), writing Target. */
USceneCaptureComponent2D* CreateFollowingCapture(AActor* Owner, UTextureRenderTarget2D* Target);

/** Every tick: captures only when bCapture, and then from Player's camera with its FOV and aspect. */
void FollowPlayerCamera(USceneCaptureComponent2D* Capture, const APlayerController* Player, bool bCapture);
}  // namespace SDBridgeRendering
