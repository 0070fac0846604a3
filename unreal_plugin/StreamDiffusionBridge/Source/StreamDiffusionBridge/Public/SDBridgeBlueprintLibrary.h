// Blueprint helpers to build typed values for SendGameEvent / SetState. Not compiled here.
#pragma once

#include "CoreMinimal.h"
#include "Kismet/BlueprintFunctionLibrary.h"
#include "StreamDiffusionBridgeTypes.h"

#include "SDBridgeBlueprintLibrary.generated.h"

UCLASS()
class STREAMDIFFUSIONBRIDGE_API USDBridgeBlueprintLibrary : public UBlueprintFunctionLibrary
{
	GENERATED_BODY()

public:
	UFUNCTION(BlueprintPure, Category = "StreamDiffusion Bridge", meta = (DisplayName = "Make Bridge Value (Bool)"))
	static FSDBridgeValue MakeBoolValue(bool Value);

	UFUNCTION(BlueprintPure, Category = "StreamDiffusion Bridge", meta = (DisplayName = "Make Bridge Value (Int)"))
	static FSDBridgeValue MakeIntValue(int64 Value);

	UFUNCTION(BlueprintPure, Category = "StreamDiffusion Bridge", meta = (DisplayName = "Make Bridge Value (Float)"))
	static FSDBridgeValue MakeFloatValue(double Value);

	UFUNCTION(BlueprintPure, Category = "StreamDiffusion Bridge", meta = (DisplayName = "Make Bridge Value (String)"))
	static FSDBridgeValue MakeStringValue(const FString& Value);
};
