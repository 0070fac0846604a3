// Not compiled here (no Unreal Engine on the build machines). See SSDBridgeViewportOverlay.h.
#include "SSDBridgeViewportOverlay.h"

#include "Engine/GameViewportClient.h"
#include "Engine/LocalPlayer.h"
#include "Engine/Texture2D.h"
#include "Widgets/Images/SImage.h"

namespace
{
constexpr int32 OverlayZOrder = 10;  // above the game, below most HUD widgets (UMG's default is 0 and up)
}

void SSDBridgeViewportOverlay::Construct(const FArguments& InArgs)
{
	Brush.DrawAs = ESlateBrushDrawType::Image;
	SetVisibility(EVisibility::HitTestInvisible);  // never takes input from the game
	ChildSlot
	[
		SAssignNew(Image, SImage)
		.Image(&Brush)
		.Visibility(EVisibility::Collapsed)
	];
}

void SSDBridgeViewportOverlay::SetImage(UTexture2D* Texture, const FVector4f& UvRegion, float Opacity)
{
	check(IsInGameThread());
	const bool bVisible = Texture != nullptr && Opacity > 0.0f;
	Image->SetVisibility(bVisible ? EVisibility::HitTestInvisible : EVisibility::Collapsed);
	if (!bVisible)
	{
		return;
	}
	if (Brush.GetResourceObject() != Texture)
	{
		Brush.SetResourceObject(Texture);  // the component keeps Texture referenced (a UPROPERTY)
		// SetImageSize: ImageSize is an FDeprecateSlateVector2D (float) in UE 5.3-5.5 (SlateBrush.h).
		Brush.SetImageSize(FVector2D(Texture->GetSizeX(), Texture->GetSizeY()));
	}
	Brush.SetUVRegion(FBox2D(FVector2D(UvRegion.X, UvRegion.Y), FVector2D(UvRegion.Z, UvRegion.W)));
	Image->SetImage(&Brush);  // re-set so Slate sees the changed brush
	Image->SetColorAndOpacity(FLinearColor(1.0f, 1.0f, 1.0f, FMath::Clamp(Opacity, 0.0f, 1.0f)));
}

TSharedPtr<SSDBridgeViewportOverlay> SSDBridgeViewportOverlay::AddToPlayer(ULocalPlayer* Player)
{
	UGameViewportClient* ViewportClient = Player != nullptr ? Player->ViewportClient : nullptr;
	if (ViewportClient == nullptr)
	{
		return nullptr;
	}
	TSharedRef<SSDBridgeViewportOverlay> Overlay = SNew(SSDBridgeViewportOverlay);
	Overlay->OwnerPlayer = Player;
	ViewportClient->AddViewportWidgetForPlayer(Player, Overlay, OverlayZOrder);
	return Overlay;
}

void SSDBridgeViewportOverlay::RemoveFromPlayer()
{
	ULocalPlayer* Player = OwnerPlayer.Get();
	if (Player != nullptr && Player->ViewportClient != nullptr)
	{
		Player->ViewportClient->RemoveViewportWidgetForPlayer(Player, SharedThis(this));
	}
	OwnerPlayer.Reset();
}
