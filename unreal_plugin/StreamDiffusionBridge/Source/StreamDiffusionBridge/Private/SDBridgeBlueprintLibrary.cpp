// Not compiled here (Unreal Engine is not available on the build machines).
#include "SDBridgeBlueprintLibrary.h"

FSDBridgeValue USDBridgeBlueprintLibrary::MakeBoolValue(bool Value)
{
	FSDBridgeValue Out;
	Out.Kind = ESDBridgeValueKind::Bool;
	Out.BoolValue = Value;
	return Out;
}

FSDBridgeValue USDBridgeBlueprintLibrary::MakeIntValue(int64 Value)
{
	FSDBridgeValue Out;
	Out.Kind = ESDBridgeValueKind::Int;
	Out.IntValue = Value;
	return Out;
}

FSDBridgeValue USDBridgeBlueprintLibrary::MakeFloatValue(double Value)
{
	FSDBridgeValue Out;
	Out.Kind = ESDBridgeValueKind::Float;
	Out.FloatValue = Value;
	return Out;
}

FSDBridgeValue USDBridgeBlueprintLibrary::MakeStringValue(const FString& Value)
{
	FSDBridgeValue Out;
	Out.Kind = ESDBridgeValueKind::String;
	Out.StringValue = Value;
	return Out;
}
