// Blueprint-facing types of the StreamDiffusion Bridge plugin. They mirror the wire messages of
// schemas/bridge.fbs (Prompt, GameEvent, State, Result timings; Params in Generated/SDBridgeParams.h). Not compiled
// here.
#pragma once

#include "CoreMinimal.h"
#include "UObject/ObjectPtr.h"  // TObjectPtr (FSDBridgeStyleTexture::Texture)
// FSDBridgeParams (the runtime parameters with their toggles), its enums and FSDBridgeNamedWeight: generated from the
// parameter registry by schemas/codegen.py (a whole header, so that UnrealHeaderTool reflects it)
#include "Generated/SDBridgeParams.h"

#include "StreamDiffusionBridgeTypes.generated.h"

class UTexture2D;

UENUM(BlueprintType)
enum class ESDBridgeConnectionState : uint8
{
	Stopped,
	Connecting,  // waiting for the server's Welcome (also between reconnect attempts)
	Connected,
	Refused,     // the server refused this plugin's protocol major: see the error message for what to install
};

/**
 * Engine planes the component sends with its frames (a bitmask: USDBridgeComponent::EnginePlanes). The values are
 * SDBridgePlaneBits (Private/Rendering/SDBridgePlanePasses.h, which states each plane's wire conventions).
 */
UENUM(BlueprintType, meta = (Bitflags, UseEnumValuesAsMaskValuesInEditor = "true"))
enum class ESDBridgePlanes : uint8
{
	None = 0 UMETA(Hidden),
	Depth = 1,     // device depth (reversed-Z), R32F
	Normals = 2,   // GBuffer world normals in view space, RGBA16F (deferred renderer)
	Motion = 4,    // velocity / camera motion towards the previous frame, RG16F
	Stencil = 8,   // custom stencil values as segmentation ids, R8
	Pose = 16,     // an OpenPose image of PoseMeshes' skeletons (a Control plane named PosePlaneName)
};
ENUM_CLASS_FLAGS(ESDBridgePlanes);

UENUM(BlueprintType)
enum class ESDBridgeValueKind : uint8
{
	None,
	Bool,
	Int,
	Float,
	String,
};

/** A typed value of a game event payload or a state variable. */
USTRUCT(BlueprintType)
struct STREAMDIFFUSIONBRIDGE_API FSDBridgeValue
{
	GENERATED_BODY()

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge")
	ESDBridgeValueKind Kind = ESDBridgeValueKind::None;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge")
	bool BoolValue = false;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge")
	int64 IntValue = 0;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge")
	double FloatValue = 0.0;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge")
	FString StringValue;
};

/** One weighted prompt of a blend. */
USTRUCT(BlueprintType)
struct STREAMDIFFUSIONBRIDGE_API FSDBridgeWeightedPrompt
{
	GENERATED_BODY()

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge")
	FString Text;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge", meta = (ClampMin = "0"))
	float Weight = 1.0f;
};

/**
 * One entry of USDBridgeComponent::StyleTextures: a named style reference image (protocol 1.4 StyleImage, servers
 * with an IP-Adapter) and its weight in the starting Params.style_blend. Sent on Connect through SetStyleFromTexture.
 */
USTRUCT(BlueprintType)
struct STREAMDIFFUSIONBRIDGE_API FSDBridgeStyleTexture
{
	GENERATED_BODY()

	/** The style's name (what Params.style_blend refers to); None is refused at Connect. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge")
	FName Name = TEXT("style");

	/** Any UTexture2D: the editor reads an 8-bit BGRA source on the CPU, everything else (packaged builds) on the GPU. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge")
	TObjectPtr<UTexture2D> Texture;

	/** The style's weight in the starting Params.style_blend; 0 sends the image but leaves it off. The clamps are the
	 *  registry's style_blend range, also checked at run time (FSDBridgeStyleImages::CheckWeight). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "StreamDiffusion Bridge", meta = (ClampMin = "0", ClampMax = "2"))
	float Weight = 1.0f;
};

/** What came back with a stylized frame. Times in milliseconds. */
USTRUCT(BlueprintType)
struct STREAMDIFFUSIONBRIDGE_API FSDBridgeResultInfo
{
	GENERATED_BODY()

	/** Id of the frame this result answers (frame ids count submitted captures from 1). */
	UPROPERTY(BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	int64 FrameId = 0;

	/** Input frame the image depicts: FrameId - latency frames of the server's pipeline. */
	UPROPERTY(BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	int64 SourceFrameId = 0;

	/** The pipeline was still filling (the first latency-frames outputs); not a real stylized frame. */
	UPROPERTY(BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	bool bIsWarmup = false;

	/** The similarity filter skipped inference; the image repeats the previous output. */
	UPROPERTY(BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	bool bSkipped = false;

	UPROPERTY(BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	float QueueWaitMs = 0.0f;

	UPROPERTY(BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	float InferenceMs = 0.0f;

	UPROPERTY(BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	float EncodeMs = 0.0f;

	/** Capture -> result received, on this machine's clock. */
	UPROPERTY(BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	float RoundTripMs = 0.0f;
};

/** An error or warning from the bridge, already worded for the user (names the value, the limit, the fix). */
USTRUCT(BlueprintType)
struct STREAMDIFFUSIONBRIDGE_API FSDBridgeError
{
	GENERATED_BODY()

	UPROPERTY(BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	FString Message;

	/** The server's protocol error code (schemas/bridge.fbs ErrorCode), 0 if the error is local. */
	UPROPERTY(BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	int32 ServerErrorCode = 0;

	/** The message field the server complained about, e.g. "Frame.stride". */
	UPROPERTY(BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	FString Field;

	/** The server and this plugin speak different protocol majors: reconnecting cannot help. */
	UPROPERTY(BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	bool bVersionMismatch = false;

	/** A warning (e.g. protocol minor differs), not an error. */
	UPROPERTY(BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	bool bWarning = false;
};

/**
 * What the details panel and Blueprints show about the connection: a copy of the core's thread-safe
 * sdbridge::StatusSnapshot (core/include/sdbridge/connection_status.h), refreshed every tick without waiting for
 * the network. Results per second and the mean round trip are measured over the last second.
 */
USTRUCT(BlueprintType)
struct STREAMDIFFUSIONBRIDGE_API FSDBridgeStatus
{
	GENERATED_BODY()

	UPROPERTY(VisibleAnywhere, BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	ESDBridgeConnectionState ConnectionState = ESDBridgeConnectionState::Stopped;

	/** The server this component talks to (EndpointOverride or the project setting). */
	UPROPERTY(VisibleAnywhere, BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	FString Endpoint;

	/** Stylized frames received per second (last second). */
	UPROPERTY(VisibleAnywhere, BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	float ResultsPerSecond = 0.0f;

	/** Mean capture -> result received over the last second, in ms (0: no result in that second). */
	UPROPERTY(VisibleAnywhere, BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	float RoundTripMs = 0.0f;

	/** Round trip of the newest result, in ms. */
	UPROPERTY(VisibleAnywhere, BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	float LastRoundTripMs = 0.0f;

	UPROPERTY(VisibleAnywhere, BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	int64 ResultsReceived = 0;

	/** Handshake failures and lost sessions since the last successful connection. */
	UPROPERTY(VisibleAnywhere, BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	int64 FailedAttempts = 0;

	/** Captures skipped because every GPU readback was still in flight. */
	UPROPERTY(VisibleAnywhere, BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	int64 SkippedCaptures = 0;

	/** The newest error or disconnect message (names the endpoint, the cause and the fix); empty if none yet. */
	UPROPERTY(VisibleAnywhere, BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	FString LastError;

	UPROPERTY(VisibleAnywhere, BlueprintReadOnly, Category = "StreamDiffusion Bridge")
	float SecondsSinceLastError = 0.0f;
};
