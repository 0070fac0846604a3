// Runtime module: the thin Unreal layer (capture, streaming, display, Blueprint API, settings) over the
// engine-free C++17 core in ../../core (compiled into this module through Private/Core/SDBridgeCore.cpp).
// Written against Epic's documented ModuleRules API for UE 5.3-5.5; NOT compiled here (no Unreal Engine on
// the build machines). The core itself is built and tested with CMake + GoogleTest (see ../../README.md).
using System.IO;
using UnrealBuildTool;

public class StreamDiffusionBridge : ModuleRules
{
	public StreamDiffusionBridge(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = PCHUsageMode.UseExplicitOrSharedPCHs;

		// cppzmq reports errors with exceptions; they are all caught inside core/src/client.cpp.
		bEnableExceptions = true;

		string CoreDir = Path.GetFullPath(Path.Combine(ModuleDirectory, "..", "..", "core"));
		PrivateIncludePaths.Add(Path.Combine(CoreDir, "include"));
		PrivateIncludePaths.Add(Path.Combine(CoreDir, "src"));
		// Private/Rendering (capture, display, reprojection) includes headers of Private/.
		PrivateIncludePaths.Add(Path.Combine(ModuleDirectory, "Private"));

		PublicDependencyModuleNames.AddRange(new string[] { "Core", "CoreUObject", "Engine", "DeveloperSettings" });
		PrivateDependencyModuleNames.AddRange(new string[]
		{
			"RenderCore", "RHI", "Projects",
			"libzmq", "cppzmq", "flatbuffers",  // external modules in ../ThirdParty (obtained, not committed)
		});
	}
}
