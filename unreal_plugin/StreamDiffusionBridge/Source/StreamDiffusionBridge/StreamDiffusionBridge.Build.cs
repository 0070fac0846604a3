// Runtime module: the thin Unreal layer (capture, streaming, display, Blueprint API, settings, status) over the
// engine-free C++17 core in <plugin>/core, compiled into this module as one translation unit
// (Private/Core/SDBridgeCore.cpp). core/ sits outside Source/, so Config/FilterPlugin.ini lists it for
// BuildPlugin (which copies only Source/, Config/, Content/, Resources/, Shaders/ and the .uplugin by default).
// Written against Epic's documented ModuleRules API for UE 5.3-5.5; NOT compiled here (no Unreal Engine on the
// build machines). The core itself is built and tested with CMake + GoogleTest (see ../../README.md).
using System.IO;
using UnrealBuildTool;

public class StreamDiffusionBridge : ModuleRules
{
	public StreamDiffusionBridge(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = PCHUsageMode.UseExplicitOrSharedPCHs;

		// cppzmq reports errors with exceptions; they are all caught inside the core client (core/src/client*.cpp; only the client includes zmq.hpp).
		bEnableExceptions = true;

		string CoreDir = Path.GetFullPath(Path.Combine(PluginDirectory, "core"));
		if (!File.Exists(Path.Combine(CoreDir, "src", "all_in_one.cpp")))
		{
			throw new BuildException("StreamDiffusionBridge: missing " + Path.Combine(CoreDir, "src", "all_in_one.cpp") +
				": the plugin's core/ folder must be copied with it (BuildPlugin copies it through Config/FilterPlugin.ini)");
		}
		PrivateIncludePaths.Add(Path.Combine(CoreDir, "include"));
		PrivateIncludePaths.Add(Path.Combine(CoreDir, "src"));
		// Private/Rendering (capture, display, reprojection) includes headers of Private/.
		PrivateIncludePaths.Add(Path.Combine(ModuleDirectory, "Private"));

		PublicDependencyModuleNames.AddRange(new string[] { "Core", "CoreUObject", "Engine", "DeveloperSettings" });
		PrivateDependencyModuleNames.AddRange(new string[]
		{
			"RenderCore", "Renderer", "RHI", "Projects", "Slate", "SlateCore",
			// External modules in ../ThirdParty, prefixed so they cannot collide with other plugins' modules.
			"SDBridgeLibZmq", "SDBridgeCppZmq", "SDBridgeFlatBuffers",
		});
	}
}
