// Runtime module of the StreamDiffusion Bridge plugin. Not compiled here (written against Epic's
// documented IModuleInterface / FPlatformProcess / IPluginManager APIs, UE 5.3-5.5).
#pragma once

#include "CoreMinimal.h"
#include "Modules/ModuleInterface.h"

DECLARE_LOG_CATEGORY_EXTERN(LogStreamDiffusionBridge, Log, All);

class FStreamDiffusionBridgeModule : public IModuleInterface
{
public:
	virtual void StartupModule() override;
	virtual void ShutdownModule() override;

	/** True once libzmq is loaded (always true where it is linked normally, e.g. Linux). */
	static bool IsTransportAvailable();

private:
	void* LibZmqHandle = nullptr;
};
