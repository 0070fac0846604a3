// Not compiled here (no Unreal Engine on the build machines). See SDBridgePasses.h. Headers and APIs as in
// UE 5.3-5.5: PixelShaderUtils.h (RenderCore), ScreenPass.h and SystemTextures.h (Renderer/Public),
// RHIStaticStates.h (TStaticSamplerState), SceneView.h (FViewMatrices::GetViewMatrix / GetProjectionNoAAMatrix).
#include "SDBridgePasses.h"

#include "GlobalShader.h"
#include "PixelShaderUtils.h"
#include "RHIStaticStates.h"
#include "RenderGraphBuilder.h"
#include "SDBridgeShaders.h"
#include "SceneView.h"
#include "SystemTextures.h"

#include <array>

namespace SDBridgeRendering
{
namespace
{
/** Unreal's FMatrix is row-vector convention (v * M); the core's is column-vector (M * v): transpose. */
sdbridge::Mat4 ToCore(const FMatrix& M)
{
	std::array<double, 16> Values;
	for (int32 Row = 0; Row < 4; ++Row)
	{
		for (int32 Col = 0; Col < 4; ++Col)
		{
			Values[static_cast<size_t>(Row * 4 + Col)] = M.M[Row][Col];
		}
	}
	return sdbridge::Mat4::FromRowMajor(Values).Transposed();
}

/**
 * The core's row-major values as they are: UE compiles shaders with row-major matrix packing, so CompositePS
 * reads Reprojection[row][col] = core.at(row, col) and computes mul(Reprojection, p) = core * p.
 */
FMatrix44f ToShader(const sdbridge::Mat4& M)
{
	FMatrix44f Out;
	for (int32 Row = 0; Row < 4; ++Row)
	{
		for (int32 Col = 0; Col < 4; ++Col)
		{
			Out.M[Row][Col] = static_cast<float>(M.at(Row, Col));
		}
	}
	return Out;
}

FVector4f ToShader(const sdbridge::UvRect& R)
{
	return FVector4f(static_cast<float>(R.min_u), static_cast<float>(R.min_v), static_cast<float>(R.max_u),
		static_cast<float>(R.max_v));
}

FRHISamplerState* BilinearClamp()
{
	return TStaticSamplerState<SF_Bilinear, AM_Clamp, AM_Clamp, AM_Clamp>::GetRHI();
}

/** 1 / the texture's extent: with the View uniform buffer's ViewRectMin / ViewSizeAndInvSize it maps view uv to texture uv. */
FVector2f ExtentInverse(FRDGTextureRef Texture)
{
	const FIntPoint Extent = Texture->Desc.Extent;
	return FVector2f(1.0f / static_cast<float>(FMath::Max(Extent.X, 1)), 1.0f / static_cast<float>(FMath::Max(Extent.Y, 1)));
}

FRHISamplerState* PointClamp()
{
	return TStaticSamplerState<SF_Point, AM_Clamp, AM_Clamp, AM_Clamp>::GetRHI();
}
}  // namespace

FSDBridgeViewCamera DescribeView(const FSceneView& View)
{
	// Without the temporal AA jitter: the tone-mapped colour we capture and composite is resolved (unjittered).
	const FMatrix Projection = View.ViewMatrices.GetProjectionNoAAMatrix();
	const FMatrix ViewProjection = View.ViewMatrices.GetViewMatrix() * Projection;  // world -> clip (row-vector)
	FSDBridgeViewCamera Frame;
	Frame.Camera.view_proj = ToCore(ViewProjection);  // double precision: world positions are large (LWC)
	const std::optional<sdbridge::DepthLinearizer> Linearizer = sdbridge::DepthLinearizer::FromProjection(ToCore(Projection));
	Frame.bPerspective = Linearizer.has_value();
	if (Linearizer.has_value())
	{
		Frame.Camera.linearizer = *Linearizer;  // UE's reversed-Z infinite projection: p22 = 0, p23 = near, p32 = 1
	}
	return Frame;
}

FVector4f UvRectOf(const FIntRect& Rect, FIntPoint Extent)
{
	const float InvX = 1.0f / static_cast<float>(FMath::Max(Extent.X, 1));
	const float InvY = 1.0f / static_cast<float>(FMath::Max(Extent.Y, 1));
	return FVector4f(Rect.Min.X * InvX, Rect.Min.Y * InvY, Rect.Max.X * InvX, Rect.Max.Y * InvY);
}

FVector4f UvRectOf(const FScreenPassTexture& Texture)
{
	return UvRectOf(Texture.ViewRect, Texture.Texture->Desc.Extent);
}

FRDGTextureRef AddCapturePass(FRDGBuilder& GraphBuilder, const FSceneView& View, const FScreenPassTexture& SceneColor,
	const sdbridge::CaptureMapping& Mapping, FIntPoint TargetSize)
{
	// PF_B8G8R8A8 without an sRGB view: the tone-mapped values are already display-encoded (sRGB) and stay so.
	const FRDGTextureDesc Desc = FRDGTextureDesc::Create2D(
		TargetSize, PF_B8G8R8A8, FClearValueBinding::Black, TexCreate_RenderTargetable | TexCreate_ShaderResource);
	FRDGTextureRef Target = GraphBuilder.CreateTexture(Desc, TEXT("SDBridge.Capture"));

	FSDBridgeCapturePS::FParameters* Parameters = GraphBuilder.AllocParameters<FSDBridgeCapturePS::FParameters>();
	Parameters->InputColorTexture = SceneColor.Texture;
	Parameters->SceneColorSampler = BilinearClamp();
	Parameters->SceneColorUvRect = UvRectOf(SceneColor);
	Parameters->SourceRect = ToShader(Mapping.source);
	Parameters->DestRect = ToShader(Mapping.dest);
	Parameters->TargetSizeInverse = FVector2f(1.0f / static_cast<float>(TargetSize.X), 1.0f / static_cast<float>(TargetSize.Y));
	Parameters->RenderTargets[0] = FRenderTargetBinding(Target, ERenderTargetLoadAction::ENoAction);

	FGlobalShaderMap* ShaderMap = GetGlobalShaderMap(View.GetFeatureLevel());
	const TShaderMapRef<FSDBridgeCapturePS> PixelShader(ShaderMap);
	FPixelShaderUtils::AddFullscreenPass(GraphBuilder, ShaderMap, RDG_EVENT_NAME("SDBridge.Capture %dx%d (%s)", TargetSize.X,
		TargetSize.Y, ANSI_TO_TCHAR(sdbridge::CaptureFitName(Mapping.fit))), PixelShader, Parameters,
		FIntRect(FIntPoint::ZeroValue, TargetSize));
	return Target;
}

FRDGTextureRef AddDepthCopyPass(FRDGBuilder& GraphBuilder, const FSceneView& View, FRDGTextureRef Depth, FIntPoint Size)
{
	const FRDGTextureDesc Desc = FRDGTextureDesc::Create2D(
		Size, PF_R32_FLOAT, FClearValueBinding::Black, TexCreate_RenderTargetable | TexCreate_ShaderResource);
	FRDGTextureRef Target = GraphBuilder.CreateTexture(Desc, TEXT("SDBridge.DepictedDepth"));

	FSDBridgeDepthCopyPS::FParameters* Parameters = GraphBuilder.AllocParameters<FSDBridgeDepthCopyPS::FParameters>();
	Parameters->View = View.ViewUniformBuffer;
	Parameters->InputDepthTexture = Depth;
	Parameters->DepthSampler = PointClamp();
	Parameters->InputDepthExtentInverse = ExtentInverse(Depth);
	Parameters->TargetSizeInverse = FVector2f(1.0f / static_cast<float>(Size.X), 1.0f / static_cast<float>(Size.Y));
	Parameters->RenderTargets[0] = FRenderTargetBinding(Target, ERenderTargetLoadAction::ENoAction);

	FGlobalShaderMap* ShaderMap = GetGlobalShaderMap(View.GetFeatureLevel());
	const TShaderMapRef<FSDBridgeDepthCopyPS> PixelShader(ShaderMap);
	FPixelShaderUtils::AddFullscreenPass(GraphBuilder, ShaderMap, RDG_EVENT_NAME("SDBridge.DepthCopy %dx%d", Size.X, Size.Y),
		PixelShader, Parameters, FIntRect(FIntPoint::ZeroValue, Size));
	return Target;
}

FScreenPassTexture AddCompositePass(FRDGBuilder& GraphBuilder, const FSceneView& View, const FSDBridgeCompositeInputs& In)
{
	FSDBridgeCompositePS::FParameters* P = GraphBuilder.AllocParameters<FSDBridgeCompositePS::FParameters>();
	const FRDGTextureRef Black = GSystemTextures.GetBlackDummy(GraphBuilder);
	const FIntRect OutRect = In.Output.ViewRect;
	const bool bHasResult = In.Result != nullptr && In.Opacity > 0.0f;
	const bool bReproject = bHasResult && In.bReproject && In.CurrentDepth != nullptr && In.SourceDepth != nullptr;

	P->LiveTexture = In.Live.Texture;
	P->LiveSampler = BilinearClamp();
	P->LiveUvRect = UvRectOf(In.Live);
	P->OutputRect = FVector4f(static_cast<float>(OutRect.Min.X), static_cast<float>(OutRect.Min.Y),
		1.0f / static_cast<float>(FMath::Max(OutRect.Width(), 1)), 1.0f / static_cast<float>(FMath::Max(OutRect.Height(), 1)));
	P->ResultTexture = bHasResult ? In.Result : Black;
	P->ResultSampler = BilinearClamp();  // sdbridge::Sampling::kBilinear
	P->SourceRect = ToShader(In.Mapping.source);
	P->DestRect = ToShader(In.Mapping.dest);
	P->Opacity = bHasResult ? FMath::Clamp(In.Opacity, 0.0f, 1.0f) : 0.0f;  // no result yet: the live frame only
	P->ResultIsLinear = In.bResultIsLinear ? 1u : 0u;
	P->bReproject = bReproject ? 1u : 0u;
	P->Reprojection = ToShader(In.Reprojection);
	P->View = View.ViewUniformBuffer;
	P->CurrentDepthTexture = bReproject ? In.CurrentDepth : Black;
	P->CurrentDepthExtentInverse = ExtentInverse(bReproject ? In.CurrentDepth : Black);
	P->SourceDepthTexture = bReproject ? In.SourceDepth : Black;
	P->DepthSampler = PointClamp();  // the core samples depth nearest too
	const sdbridge::DepthLinearizer& L = In.DepthTest.linearizer;
	P->Linearizer = FVector4f(static_cast<float>(L.p22), static_cast<float>(L.p23), static_cast<float>(L.p32), 0.0f);
	P->DepthTestSpace = static_cast<uint32>(In.DepthTest.space);  // numbered as SDB_DEPTH_* in SDBridgeCommon.ush
	P->DepthTolerance = static_cast<float>(In.DepthTest.tolerance);
	P->RenderTargets[0] = In.Output.GetRenderTargetBinding();

	FGlobalShaderMap* ShaderMap = GetGlobalShaderMap(View.GetFeatureLevel());
	const TShaderMapRef<FSDBridgeCompositePS> PixelShader(ShaderMap);
	FPixelShaderUtils::AddFullscreenPass(GraphBuilder, ShaderMap,
		RDG_EVENT_NAME("SDBridge.Composite%s", bReproject ? TEXT(" (reprojected)") : TEXT("")), PixelShader, P, OutRect);
	return FScreenPassTexture(In.Output);
}
}  // namespace SDBridgeRendering
