// Global shaders of the player-view capture, the depth copy kept for reprojection, and the composite
// (Shaders/Private/*.usf). NOT compiled here (no Unreal Engine on the build machines); written against the
// documented UE 5.3-5.5 global shader API: FGlobalShader, DECLARE_GLOBAL_SHADER / IMPLEMENT_GLOBAL_SHADER,
// SHADER_USE_PARAMETER_STRUCT, BEGIN_SHADER_PARAMETER_STRUCT with RDG textures and RENDER_TARGET_BINDING_SLOTS,
// SHADER_PARAMETER_STRUCT_REF(FViewUniformShaderParameters, View) bound from FSceneView::ViewUniformBuffer (the depth
// passes read the view's render-resolution rectangle from it: FSceneView has no public ViewRect, SceneView.h 5.3).
// The virtual path /Plugin/StreamDiffusionBridge is mapped in FStreamDiffusionBridgeModule::StartupModule
// (the module loads at PostConfigInit so the mapping exists before shaders compile).
#pragma once

#include "CoreMinimal.h"
#include "GlobalShader.h"
#include "SceneTexturesConfig.h"  // FSceneTextureUniformParameters (the engine planes read the scene textures)
#include "SceneView.h"  // FViewUniformShaderParameters (Engine): the view's rectangle in the scene depth texture
#include "ShaderParameterStruct.h"

/** Base: SM5 and up (desktop deferred and forward renderers; the mobile renderer is not a target of these passes). */
class FSDBridgeGlobalShader : public FGlobalShader
{
public:
	FSDBridgeGlobalShader() = default;
	explicit FSDBridgeGlobalShader(const ShaderMetaType::CompiledShaderInitializerType& Initializer)
		: FGlobalShader(Initializer)
	{
	}

	static bool ShouldCompilePermutation(const FGlobalShaderPermutationParameters& Parameters)
	{
		return IsFeatureLevelSupported(Parameters.Platform, ERHIFeatureLevel::SM5);
	}
};

/** The view's tone-mapped colour scaled into the server's frame size (CapturePS). */
class FSDBridgeCapturePS : public FSDBridgeGlobalShader
{
public:
	DECLARE_GLOBAL_SHADER(FSDBridgeCapturePS);
	SHADER_USE_PARAMETER_STRUCT(FSDBridgeCapturePS, FSDBridgeGlobalShader);

	BEGIN_SHADER_PARAMETER_STRUCT(FParameters, )
		SHADER_PARAMETER_RDG_TEXTURE(Texture2D, InputColorTexture)
		SHADER_PARAMETER_SAMPLER(SamplerState, SceneColorSampler)
		SHADER_PARAMETER(FVector4f, SceneColorUvRect)
		SHADER_PARAMETER(FVector4f, SourceRect)
		SHADER_PARAMETER(FVector4f, DestRect)
		SHADER_PARAMETER(FVector2f, TargetSizeInverse)
		RENDER_TARGET_BINDING_SLOTS()
	END_SHADER_PARAMETER_STRUCT()
};

/** The view's device depth, stretched over the whole view, into an R32_FLOAT texture (DepthCopyPS). */
class FSDBridgeDepthCopyPS : public FSDBridgeGlobalShader
{
public:
	DECLARE_GLOBAL_SHADER(FSDBridgeDepthCopyPS);
	SHADER_USE_PARAMETER_STRUCT(FSDBridgeDepthCopyPS, FSDBridgeGlobalShader);

	BEGIN_SHADER_PARAMETER_STRUCT(FParameters, )
		SHADER_PARAMETER_STRUCT_REF(FViewUniformShaderParameters, View)  // ViewRectMin, ViewSizeAndInvSize
		SHADER_PARAMETER_RDG_TEXTURE(Texture2D, InputDepthTexture)
		SHADER_PARAMETER_SAMPLER(SamplerState, DepthSampler)
		SHADER_PARAMETER(FVector2f, InputDepthExtentInverse)
		SHADER_PARAMETER(FVector2f, TargetSizeInverse)
		RENDER_TARGET_BINDING_SLOTS()
	END_SHADER_PARAMETER_STRUCT()
};

/** The stylized result over the live frame, optionally reprojected to the current camera (CompositePS). */
class FSDBridgeCompositePS : public FSDBridgeGlobalShader
{
public:
	DECLARE_GLOBAL_SHADER(FSDBridgeCompositePS);
	SHADER_USE_PARAMETER_STRUCT(FSDBridgeCompositePS, FSDBridgeGlobalShader);

	BEGIN_SHADER_PARAMETER_STRUCT(FParameters, )
		SHADER_PARAMETER_RDG_TEXTURE(Texture2D, LiveTexture)
		SHADER_PARAMETER_SAMPLER(SamplerState, LiveSampler)
		SHADER_PARAMETER(FVector4f, LiveUvRect)
		SHADER_PARAMETER(FVector4f, OutputRect)
		SHADER_PARAMETER_RDG_TEXTURE(Texture2D, ResultTexture)
		SHADER_PARAMETER_SAMPLER(SamplerState, ResultSampler)
		SHADER_PARAMETER(FVector4f, SourceRect)
		SHADER_PARAMETER(FVector4f, DestRect)
		SHADER_PARAMETER(float, Opacity)
		SHADER_PARAMETER(uint32, ResultIsLinear)
		SHADER_PARAMETER(uint32, bReproject)
		SHADER_PARAMETER(FMatrix44f, Reprojection)
		SHADER_PARAMETER_STRUCT_REF(FViewUniformShaderParameters, View)  // ViewRectMin, ViewSizeAndInvSize
		SHADER_PARAMETER_RDG_TEXTURE(Texture2D, CurrentDepthTexture)
		SHADER_PARAMETER(FVector2f, CurrentDepthExtentInverse)
		SHADER_PARAMETER_RDG_TEXTURE(Texture2D, SourceDepthTexture)
		SHADER_PARAMETER_SAMPLER(SamplerState, DepthSampler)
		SHADER_PARAMETER(FVector4f, Linearizer)
		SHADER_PARAMETER(uint32, DepthTestSpace)
		SHADER_PARAMETER(float, DepthTolerance)
		RENDER_TARGET_BINDING_SLOTS()
	END_SHADER_PARAMETER_STRUCT()
};

/** One engine plane (depth, normals, motion, custom stencil) at the server's frame size (PlanesPS; SDBridgePlanePasses.h). */
class FSDBridgePlanesPS : public FSDBridgeGlobalShader
{
public:
	DECLARE_GLOBAL_SHADER(FSDBridgePlanesPS);
	SHADER_USE_PARAMETER_STRUCT(FSDBridgePlanesPS, FSDBridgeGlobalShader);

	BEGIN_SHADER_PARAMETER_STRUCT(FParameters, )
		SHADER_PARAMETER_STRUCT_REF(FViewUniformShaderParameters, View)  // ViewRectMin, TranslatedWorldToView, ClipToPrevClip
		SHADER_PARAMETER_RDG_UNIFORM_BUFFER(FSceneTextureUniformParameters, SceneTextures)
		SHADER_PARAMETER(uint32, PlaneKind)
		SHADER_PARAMETER(FVector4f, SourceRect)
		SHADER_PARAMETER(FVector4f, DestRect)
		SHADER_PARAMETER(FVector2f, TargetSizeInverse)
		SHADER_PARAMETER(FVector2f, SceneExtentInverse)
		RENDER_TARGET_BINDING_SLOTS()
	END_SHADER_PARAMETER_STRUCT()
};
