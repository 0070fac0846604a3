// Not compiled here (Unreal Engine is not available on the build machines). Written against the
// documented FGlobalTabmanager::RegisterNomadTabSpawner / WorkspaceMenu APIs.
#include "StreamDiffusionBridgeEditorModule.h"

#include "Framework/Application/SlateApplication.h"  // FSlateApplication::IsInitialized (ShutdownModule)
#include "Framework/Docking/TabManager.h"
#include "Modules/ModuleManager.h"
#include "SSDBridgePromptPreview.h"
#include "Widgets/Docking/SDockTab.h"
#include "WorkspaceMenuStructure.h"
#include "WorkspaceMenuStructureModule.h"

#define LOCTEXT_NAMESPACE "StreamDiffusionBridgeEditor"

const FName FStreamDiffusionBridgeEditorModule::PreviewTabName(TEXT("SDBridgePromptPreview"));

void FStreamDiffusionBridgeEditorModule::StartupModule()
{
	FGlobalTabmanager::Get()
		->RegisterNomadTabSpawner(PreviewTabName, FOnSpawnTab::CreateLambda([](const FSpawnTabArgs&)
		{
			return SNew(SDockTab).TabRole(ETabRole::NomadTab)[SNew(SSDBridgePromptPreview)];
		}))
		.SetDisplayName(LOCTEXT("PreviewTabTitle", "StreamDiffusion Prompt Preview"))
		.SetTooltipText(LOCTEXT("PreviewTabTooltip",
			"Stream a render target to the StreamDiffusion Bridge server and see the stylized result while editing prompts."))
		.SetGroup(WorkspaceMenu::GetMenuStructure().GetToolsCategory());
}

void FStreamDiffusionBridgeEditorModule::ShutdownModule()
{
	if (FSlateApplication::IsInitialized())
	{
		FGlobalTabmanager::Get()->UnregisterNomadTabSpawner(PreviewTabName);
	}
}

#undef LOCTEXT_NAMESPACE

IMPLEMENT_MODULE(FStreamDiffusionBridgeEditorModule, StreamDiffusionBridgeEditor)
