// The render-graph passes of the player-view capture and the composite, as free functions the view extension
// calls from its post-process callback (render thread, while the graph is built). NOT compiled here (no Unreal
// Engine on the build machines); UE 5.3-5.5 API: FRDGBuilder, FScreenPassTexture / FScreenPassRenderTarget
// (ScreenPass.h), FPixelShaderUtils::AddFullscreenPass (PixelShaderUtils.h), FViewMatrices (SceneView.h).
#pragma once

#include "CoreMinimal.h"
#include "RenderGraphFwd.h"
#include "ScreenPass.h"
#include "SDBridgeFrameHistory.h"
#include "sdbridge/capture_fit.h"
#include "sdbridge/reprojection.h"

class FSceneView;

namespace SDBridgeRendering
{
/** The camera of View as the core's reprojection wants it (column-vector view-projection without TAA jitter). */
FSDBridgeViewCamera DescribeView(const FSceneView& View);

/** View uv rectangle of Texture.ViewRect in Texture's uv: (min.u, min.v, max.u, max.v). */
FVector4f UvRectOf(const FScreenPassTexture& Texture);
/** The same for a rectangle of a texture of the given extent. */
FVector4f UvRectOf(const FIntRect& Rect, FIntPoint Extent);

/** Draw SceneColor's view into a new TargetSize PF_B8G8R8A8 texture with Mapping (CapturePS). */
FRDGTextureRef AddCapturePass(FRDGBuilder& GraphBuilder, const FSceneView& View, const FScreenPassTexture& SceneColor,
	const sdbridge::CaptureMapping& Mapping, FIntPoint TargetSize);

/**
 * Copy the view's device depth into a new Size R32_FLOAT texture (DepthCopyPS). Depth is the scene depth texture; the
 * view's rectangle in it is read on the GPU from View.ViewUniformBuffer (ViewRectMin, ViewSizeAndInvSize).
 */
FRDGTextureRef AddDepthCopyPass(FRDGBuilder& GraphBuilder, const FSceneView& View, FRDGTextureRef Depth, FIntPoint Size);

/** Everything the composite pass draws with; textures may be null (the pass then binds dummies and skips them). */
struct FSDBridgeCompositeInputs
{
	FScreenPassTexture Live;             // the tone-mapped scene colour
	FScreenPassRenderTarget Output;      // where the composite goes (the chain's override output or a new texture)
	FRDGTextureRef Result = nullptr;     // the newest stylized frame (null: show the live frame only)
	bool bResultIsLinear = true;         // Result is sampled through an sRGB view
	float Opacity = 1.0f;
	sdbridge::CaptureMapping Mapping;    // how the depicted frame was captured
	// Reprojection (all set, or bReproject false):
	bool bReproject = false;
	sdbridge::Mat4 Reprojection = sdbridge::Mat4::Identity();  // ReprojectionMatrix(src, dst)
	FRDGTextureRef CurrentDepth = nullptr;  // this frame's scene depth (the view's rectangle: View uniform buffer)
	FRDGTextureRef SourceDepth = nullptr;  // the depicted frame's depth (DepthCopyPS)
	sdbridge::DepthTest DepthTest;
};

/** Draw the composite (CompositePS) into Inputs.Output and return it. */
FScreenPassTexture AddCompositePass(FRDGBuilder& GraphBuilder, const FSceneView& View, const FSDBridgeCompositeInputs& Inputs);
}  // namespace SDBridgeRendering
