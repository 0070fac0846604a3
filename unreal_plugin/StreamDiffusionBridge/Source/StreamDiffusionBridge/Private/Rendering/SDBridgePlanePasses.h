// The engine planes of the player view (depth, normals, motion vectors, custom stencil ids) drawn at the server's
// frame size with the capture's mapping, and their wire descriptions. The view extension queues each plane's
// GPU -> CPU copy in the readback ring with the colour capture, and the frame goes out with its planes when all
// copies are back (SDBridgeReadbackRing). Conventions (schemas/bridge.fbs PlaneDesc):
//   Depth     R32F    device depth, reversed-Z (UE always), DepthNear = the view's near clipping distance,
//                     DepthFar 0 (UE's default infinite far plane; a finite-far or orthographic projection is not
//                     described), rows top-down.
//   Normals   RGBA16F GBuffer world normals in view space (NormalSpace View, +z towards the viewer), Signed. Deferred
//                     shading only (the forward renderer has no GBuffer: the plane is not sent).
//   Motion    RG16F   UV of the plane, towards the Previous frame, +y down the image (MotionYUp false).
//   Stencil   R8      the custom stencil value as the Segmentation id (0 = none); needs the project setting Custom
//                     Depth-Stencil Pass = Enabled with Stencil and meshes with Render CustomDepth Pass + a stencil value.
// NOT compiled here (no Unreal Engine on the build machines). UE 5.3-5.5 API: FSceneTextureUniformParameters
// (SceneTexturesConfig.h / SceneRenderTargetParameters.h), FPixelShaderUtils::AddFullscreenPass, FSceneView.
#pragma once

#include "CoreMinimal.h"
#include "RenderGraphFwd.h"
#include "SceneTexturesConfig.h"
#include "sdbridge/capture_fit.h"
#include "sdbridge/messages.h"

#include <vector>

class FSceneView;

/** The engine planes the component can send (a bitmask of ESDBridgePlanes values, mirrored here for the render thread). */
namespace SDBridgePlaneBits
{
constexpr uint32 Depth = 1u << 0;
constexpr uint32 Normals = 1u << 1;
constexpr uint32 Motion = 1u << 2;
constexpr uint32 Stencil = 1u << 3;
constexpr uint32 Pose = 1u << 4;
}  // namespace SDBridgePlaneBits

/** One plane drawn this frame: its texture (TargetSize) and its wire description. */
struct FSDBridgePlaneTexture
{
	FRDGTextureRef Texture = nullptr;
	sdbridge::PlaneDesc Desc;
};

/** The SDBridgePlaneBits of the plane kinds a server wants (Client::GetWantedPlanes; a Control plane: the pose). */
inline uint32 SDBridgePlaneBitsFor(const std::vector<sdbridge::PlaneKind>& Wanted)
{
	uint32 Bits = 0u;
	for (const sdbridge::PlaneKind Kind : Wanted)
	{
		switch (Kind)
		{
		case sdbridge::PlaneKind::kDepth: Bits |= SDBridgePlaneBits::Depth; break;
		case sdbridge::PlaneKind::kNormals: Bits |= SDBridgePlaneBits::Normals; break;
		case sdbridge::PlaneKind::kMotion: Bits |= SDBridgePlaneBits::Motion; break;
		case sdbridge::PlaneKind::kSegmentation: Bits |= SDBridgePlaneBits::Stencil; break;
		case sdbridge::PlaneKind::kControl: Bits |= SDBridgePlaneBits::Pose; break;
		default: break;
		}
	}
	return Bits;
}

namespace SDBridgeRendering
{
/**
 * Draw the planes of Bits (SDBridgePlaneBits; Pose is drawn on the CPU and ignored here) from the scene textures of
 * this frame. SceneTextures null (mobile renderer): nothing. Normals need the deferred renderer.
 */
TArray<FSDBridgePlaneTexture> AddPlanePasses(FRDGBuilder& GraphBuilder, const FSceneView& View,
	TRDGUniformBufferRef<FSceneTextureUniformParameters> SceneTextures, const sdbridge::CaptureMapping& Mapping,
	FIntPoint TargetSize, uint32 Bits);
}  // namespace SDBridgeRendering
