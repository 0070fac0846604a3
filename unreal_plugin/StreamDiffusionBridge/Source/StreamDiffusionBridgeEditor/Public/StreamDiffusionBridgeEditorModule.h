// Editor module: registers the prompt preview tab. Not compiled here.
#pragma once

#include "CoreMinimal.h"
#include "Modules/ModuleInterface.h"

class FStreamDiffusionBridgeEditorModule : public IModuleInterface
{
public:
	virtual void StartupModule() override;
	virtual void ShutdownModule() override;

	static const FName PreviewTabName;
};
