// USDBridgeComponent's engine planes, pose and scene cuts (declared in SDBridgeComponent.h):
//   - pose: the bones of PoseMeshes projected into the capture each tick (ProjectPoseKeypoints), handed to the view
//     extension with the capture; the core's OpenPose renderer (sdbridge/openpose.h) draws the image at submit time.
//     Default mapping COCO-18 <- UE5 Mannequin bone (PoseBoneNames; "right" is the character's right):
//       nose -            (estimated: head + 10 forward + 6 up, cm, the owning actor's axes)
//       neck -            (estimated: midpoint of upperarm_l and upperarm_r, OpenPose's neck)
//       r/l shoulder  upperarm_r / upperarm_l     r/l elbow  lowerarm_r / lowerarm_l    r/l wrist  hand_r / hand_l
//       r/l hip       thigh_r / thigh_l           r/l knee   calf_r / calf_l            r/l ankle  foot_r / foot_l
//       r/l eye -         (estimated: head + 3 right/left + 9 up + 8 forward)
//       r/l ear -         (estimated: head + 7.5 right/left + 6 up)
//     A named bone the mesh lacks, or a point behind the camera, leaves the keypoint missing (its limbs undrawn).
//   - scene cuts: the view's camera cuts (FSceneView::bCameraCut, counted by the view extension), level loads
//     (FCoreUObjectDelegates::PostLoadMapWithWorld) and teleports of the player camera (PlayerCameraManager location
//     and rotation between ticks) raise OnSceneCut; the first capture after a cut carries Frame.scene_cut (1.4).
// NOT compiled here (no Unreal Engine on the build machines). UE 5.3-5.5 API: USkinnedMeshComponent::GetBoneIndex /
// GetBoneLocation, APlayerController::ProjectWorldLocationToScreen / GetViewportSize, APlayerCameraManager::
// GetCameraLocation / GetCameraRotation, FCoreUObjectDelegates::PostLoadMapWithWorld (UObject/UObjectGlobals.h).
#include "SDBridgeComponent.h"

#include "Camera/PlayerCameraManager.h"
#include "Components/SkeletalMeshComponent.h"
#include "GameFramework/Actor.h"
#include "GameFramework/PlayerController.h"
#include "Rendering/SDBridgeViewExtension.h"
#include "UObject/UObjectGlobals.h"
#include "sdbridge/capture_fit.h"
#include "sdbridge/openpose.h"

#include <limits>

namespace
{
constexpr int32 KeypointCount = sdbridge::kOpenPoseKeypointCount;

/** Estimated keypoints (cm, from the head bone along the character's axes) where PoseBoneNames has None. */
void EstimateFromHead(const FVector& Head, const AActor* Owner, TArray<TOptional<FVector>>& Points)
{
	const FVector Fwd = Owner != nullptr ? Owner->GetActorForwardVector() : FVector::ForwardVector;
	const FVector Up = Owner != nullptr ? Owner->GetActorUpVector() : FVector::UpVector;
	const FVector Right = Owner != nullptr ? Owner->GetActorRightVector() : FVector::RightVector;
	auto Fill = [&Points](sdbridge::OpenPoseKeypoint K, const FVector& P)
	{
		TOptional<FVector>& Slot = Points[static_cast<int32>(K)];
		if (!Slot.IsSet())
		{
			Slot = P;
		}
	};
	Fill(sdbridge::OpenPoseKeypoint::kNose, Head + Fwd * 10.0 + Up * 6.0);
	Fill(sdbridge::OpenPoseKeypoint::kRightEye, Head + Right * 3.0 + Up * 9.0 + Fwd * 8.0);
	Fill(sdbridge::OpenPoseKeypoint::kLeftEye, Head - Right * 3.0 + Up * 9.0 + Fwd * 8.0);
	Fill(sdbridge::OpenPoseKeypoint::kRightEar, Head + Right * 7.5 + Up * 6.0);
	Fill(sdbridge::OpenPoseKeypoint::kLeftEar, Head - Right * 7.5 + Up * 6.0);
}
}  // namespace

TArray<FName> USDBridgeComponent::DefaultPoseBoneNames()
{
	return {NAME_None, NAME_None, TEXT("upperarm_r"), TEXT("lowerarm_r"), TEXT("hand_r"), TEXT("upperarm_l"),
		TEXT("lowerarm_l"), TEXT("hand_l"), TEXT("thigh_r"), TEXT("calf_r"), TEXT("foot_r"), TEXT("thigh_l"), TEXT("calf_l"),
		TEXT("foot_l"), NAME_None, NAME_None, NAME_None, NAME_None};
}

TArray<float> USDBridgeComponent::ProjectPoseKeypoints(APlayerController* Controller, FIntPoint TargetSize,
	sdbridge::CaptureFit Fit) const
{
	TArray<float> Out;
	int32 ViewWidth = 0, ViewHeight = 0;
	if (Controller == nullptr || PoseBoneNames.Num() != KeypointCount)
	{
		return Out;
	}
	Controller->GetViewportSize(ViewWidth, ViewHeight);
	sdbridge::CaptureMapping Mapping;
	if (ViewWidth <= 0 || ViewHeight <= 0 ||
		!sdbridge::ComputeCaptureMapping(Fit, static_cast<uint32>(ViewWidth), static_cast<uint32>(ViewHeight),
			static_cast<uint32>(TargetSize.X), static_cast<uint32>(TargetSize.Y), &Mapping).ok())
	{
		return Out;
	}
	const sdbridge::UvRect& S = Mapping.source;
	const sdbridge::UvRect& D = Mapping.dest;
	TArray<USkeletalMeshComponent*> Meshes;
	for (const TObjectPtr<USkeletalMeshComponent>& Mesh : PoseMeshes)
	{
		Meshes.Add(Mesh.Get());
	}
	if (Meshes.Num() == 0 && GetOwner() != nullptr)
	{
		Meshes.Add(GetOwner()->FindComponentByClass<USkeletalMeshComponent>());  // empty list: the owner's own mesh
	}
	for (USkeletalMeshComponent* Mesh : Meshes)
	{
		if (Mesh == nullptr)
		{
			continue;
		}
		TArray<TOptional<FVector>> World;
		World.SetNum(KeypointCount);
		for (int32 K = 0; K < KeypointCount; ++K)
		{
			const FName Bone = PoseBoneNames[K];
			if (!Bone.IsNone() && Mesh->GetBoneIndex(Bone) != INDEX_NONE)
			{
				World[K] = Mesh->GetBoneLocation(Bone);  // world space
			}
		}
		const TOptional<FVector>& RS = World[static_cast<int32>(sdbridge::OpenPoseKeypoint::kRightShoulder)];
		const TOptional<FVector>& LS = World[static_cast<int32>(sdbridge::OpenPoseKeypoint::kLeftShoulder)];
		if (!World[static_cast<int32>(sdbridge::OpenPoseKeypoint::kNeck)].IsSet() && RS.IsSet() && LS.IsSet())
		{
			World[static_cast<int32>(sdbridge::OpenPoseKeypoint::kNeck)] = (RS.GetValue() + LS.GetValue()) * 0.5;
		}
		if (Mesh->GetBoneIndex(TEXT("head")) != INDEX_NONE)
		{
			EstimateFromHead(Mesh->GetBoneLocation(TEXT("head")), Mesh->GetOwner(), World);
		}
		for (int32 K = 0; K < KeypointCount; ++K)
		{
			FVector2D Screen;
			float X = std::numeric_limits<float>::quiet_NaN(), Y = X;
			if (World[K].IsSet() && Controller->ProjectWorldLocationToScreen(World[K].GetValue(), Screen, false))
			{
				// Viewport pixels -> view uv -> target uv (unclamped: a point just outside Crop's rectangle still draws
				// its limbs to the edge) -> target pixels with centres at whole coordinates.
				const double U = Screen.X / ViewWidth, V = Screen.Y / ViewHeight;
				const double TU = D.min_u + (U - S.min_u) / (S.max_u - S.min_u) * (D.max_u - D.min_u);
				const double TV = D.min_v + (V - S.min_v) / (S.max_v - S.min_v) * (D.max_v - D.min_v);
				X = static_cast<float>(TU * TargetSize.X - 0.5);
				Y = static_cast<float>(TV * TargetSize.Y - 0.5);
			}
			Out.Add(X);
			Out.Add(Y);
		}
	}
	return Out;
}

void USDBridgeComponent::SignalSceneCut()
{
	++SceneCuts;
	bSceneCutPending = true;
	OnSceneCut.Broadcast();
}

void USDBridgeComponent::StartSceneCuts()
{
	LevelLoadedHandle = FCoreUObjectDelegates::PostLoadMapWithWorld.AddUObject(this, &USDBridgeComponent::OnLevelLoaded);
	bHasLastCamera = false;
	CameraCutsSeen = ViewExtension ? ViewExtension->GetCameraCuts() : 0;
}

void USDBridgeComponent::StopSceneCuts()
{
	FCoreUObjectDelegates::PostLoadMapWithWorld.Remove(LevelLoadedHandle);
	LevelLoadedHandle.Reset();
}

void USDBridgeComponent::OnLevelLoaded(UWorld* LoadedWorld)
{
	if (bSceneCutOnLevelLoad)
	{
		SignalSceneCut();
	}
}

void USDBridgeComponent::TrackSceneCuts()
{
	bool bViewCut = false;  // already carried by the render thread's capture: only raised here
	bool bCut = false;
	if (ViewExtension)
	{
		const uint64 Cuts = ViewExtension->GetCameraCuts();  // the render thread's count of the view's camera cuts
		bViewCut = Cuts != CameraCutsSeen;
		CameraCutsSeen = Cuts;
	}
	const APlayerController* Controller = FindLocalPlayerController();
	if (Controller != nullptr && Controller->PlayerCameraManager != nullptr)
	{
		const FVector Location = Controller->PlayerCameraManager->GetCameraLocation();
		const FVector Forward = Controller->PlayerCameraManager->GetCameraRotation().Vector();
		if (bHasLastCamera)
		{
			const double Turn = FMath::RadiansToDegrees(FMath::Acos(FMath::Clamp(FVector::DotProduct(Forward, LastCameraForward), -1.0, 1.0)));
			bCut |= (TeleportDistance > 0.0f && FVector::Dist(Location, LastCameraLocation) > TeleportDistance) ||
				(TeleportAngle > 0.0f && Turn > TeleportAngle);
		}
		LastCameraLocation = Location;
		LastCameraForward = Forward;
		bHasLastCamera = true;
	}
	if (bCut)
	{
		SignalSceneCut();  // once per tick, whichever way it was seen
	}
	else if (bViewCut)
	{
		++SceneCuts;
		OnSceneCut.Broadcast();
	}
}
