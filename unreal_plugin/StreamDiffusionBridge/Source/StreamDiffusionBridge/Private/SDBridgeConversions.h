// Conversions between the Blueprint types and the core's structs (sdbridge::Prompt, Params, KeyValue, ResultInfo,
// ErrorInfo, ...): engine types only (FString <-> UTF-8, TMap, EPixelFormat, USTRUCT field copies). Every decision
// (timings, round trip, error flags, readback layout, log levels, status) lives in the core, where ctest covers it
// (core/include/sdbridge/engine_support.h, log_policy.h, connection_status.h). Covered here by the automation specs
// in Private/Tests.
// Not compiled here (Unreal Engine is not available on the build machines).
#pragma once

#include "CoreMinimal.h"
#include "PixelFormat.h"
#include "StreamDiffusionBridgeTypes.h"

#include "sdbridge/client.h"
#include "sdbridge/engine_support.h"

namespace SDBridge
{
// TCHAR_TO_UTF8 / UTF8_TO_TCHAR make temporaries that live to the end of the full expression.
inline std::string ToUtf8(const FString& Text)
{
	return std::string(TCHAR_TO_UTF8(*Text));
}

inline FString FromUtf8(const std::string& Text)
{
	return FString(UTF8_TO_TCHAR(Text.c_str()));
}

inline sdbridge::Value ToWire(const FSDBridgeValue& Value)
{
	switch (Value.Kind)
	{
	case ESDBridgeValueKind::Bool: return sdbridge::Value(Value.BoolValue);
	case ESDBridgeValueKind::Int: return sdbridge::Value(static_cast<int64_t>(Value.IntValue));
	case ESDBridgeValueKind::Float: return sdbridge::Value(Value.FloatValue);
	case ESDBridgeValueKind::String: return sdbridge::Value(ToUtf8(Value.StringValue));
	default: return sdbridge::Value(std::monostate());
	}
}

inline std::vector<sdbridge::KeyValue> ToWire(const TMap<FString, FSDBridgeValue>& Map)
{
	std::vector<sdbridge::KeyValue> Out;
	Out.reserve(Map.Num());
	for (const TPair<FString, FSDBridgeValue>& Pair : Map)
	{
		Out.push_back(sdbridge::KeyValue{ToUtf8(Pair.Key), ToWire(Pair.Value)});
	}
	return Out;
}

// ToWire of FSDBridgeParams, its enums and named weights: generated from the parameter registry (schemas/codegen.py)
#include "Generated/SDBridgeParamsToWire.inl"

/** RGBA8 / BGRA8 render targets only (what a SceneCapture into RTF_RGBA8_SRGB produces on every RHI). */
inline sdbridge::PixelFormat ToWire(EPixelFormat Format)
{
	switch (Format)
	{
	case PF_B8G8R8A8: return sdbridge::PixelFormat::kBGRA8;
	case PF_R8G8B8A8: return sdbridge::PixelFormat::kRGBA8;
	default: return sdbridge::PixelFormat::kUnknown;
	}
}

inline EPixelFormat ToTextureFormat(sdbridge::PixelFormat Format)
{
	switch (Format)
	{
	case sdbridge::PixelFormat::kBGRA8: return PF_B8G8R8A8;
	case sdbridge::PixelFormat::kRGBA8: return PF_R8G8B8A8;
	default: return PF_Unknown;
	}
}

inline ESDBridgeConnectionState ToBlueprint(sdbridge::ConnectionState State)
{
	switch (State)
	{
	case sdbridge::ConnectionState::kConnecting: return ESDBridgeConnectionState::Connecting;
	case sdbridge::ConnectionState::kConnected: return ESDBridgeConnectionState::Connected;
	case sdbridge::ConnectionState::kRefused: return ESDBridgeConnectionState::Refused;
	default: return ESDBridgeConnectionState::Stopped;
	}
}

/** Field copies only: the timings and the round trip are computed by sdbridge::DescribeResult (core, ctest). */
inline FSDBridgeResultInfo ToBlueprint(const sdbridge::ResultInfo& In)
{
	FSDBridgeResultInfo Info;
	Info.FrameId = static_cast<int64>(In.frame_id);
	Info.SourceFrameId = static_cast<int64>(In.source_frame_id);
	Info.bIsWarmup = In.is_warmup;
	Info.bSkipped = In.skipped;
	Info.QueueWaitMs = In.queue_wait_ms;
	Info.InferenceMs = In.inference_ms;
	Info.EncodeMs = In.encode_ms;
	Info.RoundTripMs = In.round_trip_ms;
	return Info;
}

/** Field copies only: sdbridge::DescribeEvent (core, ctest) decides what an event says. */
inline FSDBridgeError ToBlueprint(const sdbridge::ErrorInfo& In)
{
	FSDBridgeError Error;
	Error.Message = FromUtf8(In.message);
	Error.ServerErrorCode = In.server_error_code;
	Error.Field = FromUtf8(In.field);
	Error.bVersionMismatch = In.version_mismatch;
	Error.bWarning = In.warning;
	return Error;
}
}  // namespace SDBridge
