// Capture and display options of USDBridgeComponent. Blueprint-facing enums only;
// the render-thread code lives in Private/Rendering. Not compiled here (no Unreal Engine on the build machines):
// written against the documented UE 5.3-5.5 reflection macros (UENUM, UMETA).
#pragma once

#include "CoreMinimal.h"

#include "SDBridgeDisplay.generated.h"

/** Where the frames sent to the server come from. */
UENUM(BlueprintType)
enum class ESDBridgeCaptureSource : uint8
{
	/** The player's own view, copied in the post-process chain after tonemapping (no second scene render). */
	PlayerView,
	/** Opt-in fallback: a SceneCapture2D that follows the player camera (renders the scene a second time). */
	SceneCapture,
};

/** How the view is scaled to the server's frame size (sdbridge::CaptureFit in core/include/sdbridge/capture_fit.h). */
UENUM(BlueprintType)
enum class ESDBridgeCaptureFit : uint8
{
	/** The whole view, aspect kept, black bars in the server's frame where the aspects differ. */
	Fit,
	/** The centre of the view at the server's aspect, filling the whole frame; the view's edges are not sent. */
	Crop,
	/** The whole view into the whole frame; distorted when the aspects differ. */
	Stretch,
};

/** How the stylized frame is shown (the OutputTexture for materials and UI is always updated). */
UENUM(BlueprintType)
enum class ESDBridgeDisplayMode : uint8
{
	/** Only the OutputTexture (bind it in your own material or widget). */
	TextureOnly,
	/** A post-process pass blends the result over the live frame (with optional reprojection). No asset needed. */
	PostProcessComposite,
	/** A Slate image over the player's part of the game viewport, created in code. No asset needed. */
	ViewportOverlay,
};
