// Editor module: the "StreamDiffusion Prompt Preview" tab (Tools menu). Written against Epic's documented
// ModuleRules API (UE 5.3-5.5); NOT compiled here (no Unreal Engine on the build machines).
using UnrealBuildTool;

public class StreamDiffusionBridgeEditor : ModuleRules
{
	public StreamDiffusionBridgeEditor(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = PCHUsageMode.UseExplicitOrSharedPCHs;
		PublicDependencyModuleNames.AddRange(new string[] { "Core", "CoreUObject", "Engine" });
		PrivateDependencyModuleNames.AddRange(new string[]
		{
			"Slate", "SlateCore", "InputCore", "UnrealEd", "PropertyEditor", "WorkspaceMenuStructure",
			"StreamDiffusionBridge",
		});
	}
}
