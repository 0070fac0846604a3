// A Slate image of the stylized result over the player's part of the game viewport, created in code (no asset),
// for when the post-process composite is not wanted or not available (e.g. the mobile renderer, the SceneCapture
// fallback). It shows the part of the result that holds the picture (Fit's bars are cut off) stretched over the
// player's area: exact for Fit and Stretch; with Crop the cropped centre fills the whole area (use the composite).
// Game thread only. NOT compiled here (no Unreal Engine on the build machines); UE 5.3-5.5 Slate API: SCompoundWidget,
// SImage, FSlateBrush::SetResourceObject / SetUVRegion, UGameViewportClient::AddViewportWidgetForPlayer /
// RemoveViewportWidgetForPlayer.
#pragma once

#include "CoreMinimal.h"
#include "Styling/SlateBrush.h"
#include "Widgets/SCompoundWidget.h"

class SImage;
class UTexture2D;
class ULocalPlayer;

class SSDBridgeViewportOverlay : public SCompoundWidget
{
public:
	SLATE_BEGIN_ARGS(SSDBridgeViewportOverlay) {}
	SLATE_END_ARGS()

	void Construct(const FArguments& InArgs);

	/** Show Texture's UvRegion (min u, min v, max u, max v) with Opacity; a null Texture or Opacity 0 hides it. */
	void SetImage(UTexture2D* Texture, const FVector4f& UvRegion, float Opacity);

	/** Create one and add it to Player's part of the game viewport; null when there is no game viewport. */
	static TSharedPtr<SSDBridgeViewportOverlay> AddToPlayer(ULocalPlayer* Player);
	/** Remove it from the viewport it was added to (safe when the viewport is already gone). */
	void RemoveFromPlayer();

private:
	FSlateBrush Brush;
	TSharedPtr<SImage> Image;
	TWeakObjectPtr<ULocalPlayer> OwnerPlayer;
};
