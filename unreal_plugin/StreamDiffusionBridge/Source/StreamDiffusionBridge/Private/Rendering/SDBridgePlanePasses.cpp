// Not compiled here (no Unreal Engine on the build machines). See SDBridgePlanePasses.h. APIs as in UE 5.3-5.5:
// FRDGTextureDesc::Create2D, FPixelShaderUtils::AddFullscreenPass (PixelShaderUtils.h), GetGlobalShaderMap,
// IsForwardShadingEnabled (RenderUtils.h), FSceneView::NearClippingDistance.
#include "SDBridgePlanePasses.h"

#include "GlobalShader.h"
#include "PixelShaderUtils.h"
#include "RenderGraphBuilder.h"
#include "RenderUtils.h"
#include "SDBridgeShaders.h"
#include "SceneRenderTargetParameters.h"  // FSceneTextureUniformParameters, as the view extension includes it
#include "SceneView.h"

namespace SDBridgeRendering
{
namespace
{
struct FPlaneKindInfo
{
	uint32 Bit;
	uint32 ShaderKind;  // PlanesPS's PlaneKind
	EPixelFormat Format;
	const TCHAR* Name;
};

constexpr FPlaneKindInfo Kinds[] = {
	{SDBridgePlaneBits::Depth, 1u, PF_R32_FLOAT, TEXT("SDBridge.DepthPlane")},
	{SDBridgePlaneBits::Normals, 2u, PF_FloatRGBA, TEXT("SDBridge.NormalsPlane")},
	{SDBridgePlaneBits::Motion, 3u, PF_G16R16F, TEXT("SDBridge.MotionPlane")},
	{SDBridgePlaneBits::Stencil, 4u, PF_G8, TEXT("SDBridge.StencilPlane")},
};

sdbridge::PlaneDesc Describe(uint32 Bit, const FSceneView& View, FIntPoint Size)
{
	const uint32 W = static_cast<uint32>(Size.X), H = static_cast<uint32>(Size.Y);
	sdbridge::PlaneDesc D;
	switch (Bit)
	{
	case SDBridgePlaneBits::Depth:
		D = sdbridge::PlaneDesc::Packed(sdbridge::PlaneKind::kDepth, sdbridge::PlaneFormat::kR32F, W, H);
		D.depth_encoding = sdbridge::DepthEncoding::kDevice;
		D.reversed_z = true;
		D.depth_near = View.NearClippingDistance;
		D.depth_far = 0.0f;  // UE's default projection has no far plane
		break;
	case SDBridgePlaneBits::Normals:
		D = sdbridge::PlaneDesc::Packed(sdbridge::PlaneKind::kNormals, sdbridge::PlaneFormat::kRGBA16F, W, H);
		D.normal_space = sdbridge::NormalSpace::kView;
		D.normal_encoding = sdbridge::NormalEncoding::kSigned;
		break;
	case SDBridgePlaneBits::Motion:
		D = sdbridge::PlaneDesc::Packed(sdbridge::PlaneKind::kMotion, sdbridge::PlaneFormat::kRG16F, W, H);
		D.motion_units = sdbridge::MotionUnits::kUV;
		D.motion_target = sdbridge::MotionTarget::kPrevious;
		D.motion_y_up = false;
		break;
	default:
		D = sdbridge::PlaneDesc::Packed(sdbridge::PlaneKind::kSegmentation, sdbridge::PlaneFormat::kR8, W, H);
		break;
	}
	return D;  // stride: the readback's row pitch replaces it when the frame is submitted
}

FVector4f RectOf(const sdbridge::UvRect& R)
{
	return FVector4f(static_cast<float>(R.min_u), static_cast<float>(R.min_v), static_cast<float>(R.max_u),
		static_cast<float>(R.max_v));
}
}  // namespace

TArray<FSDBridgePlaneTexture> AddPlanePasses(FRDGBuilder& GraphBuilder, const FSceneView& View,
	TRDGUniformBufferRef<FSceneTextureUniformParameters> SceneTextures, const sdbridge::CaptureMapping& Mapping,
	FIntPoint TargetSize, uint32 Bits)
{
	TArray<FSDBridgePlaneTexture> Out;
	if (!SceneTextures || Bits == 0u)
	{
		return Out;
	}
	const FIntPoint SceneExtent = SceneTextures->GetContents()->SceneDepthTexture->Desc.Extent;
	const bool bForward = IsForwardShadingEnabled(View.GetShaderPlatform());
	FGlobalShaderMap* ShaderMap = GetGlobalShaderMap(View.GetFeatureLevel());
	const TShaderMapRef<FSDBridgePlanesPS> PixelShader(ShaderMap);
	for (const FPlaneKindInfo& Kind : Kinds)
	{
		if ((Bits & Kind.Bit) == 0u || (Kind.Bit == SDBridgePlaneBits::Normals && bForward))
		{
			continue;
		}
		const FRDGTextureDesc Desc = FRDGTextureDesc::Create2D(TargetSize, Kind.Format, FClearValueBinding::Black,
			TexCreate_RenderTargetable | TexCreate_ShaderResource);
		FRDGTextureRef Target = GraphBuilder.CreateTexture(Desc, Kind.Name);
		FSDBridgePlanesPS::FParameters* P = GraphBuilder.AllocParameters<FSDBridgePlanesPS::FParameters>();
		P->View = View.ViewUniformBuffer;
		P->SceneTextures = SceneTextures;
		P->PlaneKind = Kind.ShaderKind;
		P->SourceRect = RectOf(Mapping.source);
		P->DestRect = RectOf(Mapping.dest);
		P->TargetSizeInverse = FVector2f(1.0f / static_cast<float>(TargetSize.X), 1.0f / static_cast<float>(TargetSize.Y));
		P->SceneExtentInverse = FVector2f(1.0f / static_cast<float>(SceneExtent.X), 1.0f / static_cast<float>(SceneExtent.Y));
		P->RenderTargets[0] = FRenderTargetBinding(Target, ERenderTargetLoadAction::ENoAction);
		FPixelShaderUtils::AddFullscreenPass(GraphBuilder, ShaderMap, RDG_EVENT_NAME("%s %dx%d", Kind.Name, TargetSize.X, TargetSize.Y),
			PixelShader, P, FIntRect(FIntPoint::ZeroValue, TargetSize));
		Out.Add(FSDBridgePlaneTexture{Target, Describe(Kind.Bit, View, TargetSize)});
	}
	return Out;
}
}  // namespace SDBridgeRendering
