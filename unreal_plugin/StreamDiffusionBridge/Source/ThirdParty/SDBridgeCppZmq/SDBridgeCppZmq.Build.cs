// External module: cppzmq headers (zmq.hpp, zmq_addon.hpp; 4.9 or newer), header-only, kept in include/.
// Used only by the core client (core/src/client*.cpp), compiled in Private/Core/SDBridgeCore.cpp (its exceptions never leave that
// translation unit). Prefixed name: cannot collide with another plugin's "cppzmq" module.
// Written against Epic's documented ModuleRules API (UE 5.3-5.5); NOT compiled here.
using System.IO;
using UnrealBuildTool;

public class SDBridgeCppZmq : ModuleRules
{
	public SDBridgeCppZmq(ReadOnlyTargetRules Target) : base(Target)
	{
		Type = ModuleType.External;
		string IncludeDir = Path.Combine(ModuleDirectory, "include");
		if (!File.Exists(Path.Combine(IncludeDir, "zmq.hpp")))
		{
			throw new BuildException("StreamDiffusionBridge: missing " + Path.Combine(IncludeDir, "zmq.hpp") +
				"; obtain cppzmq as described in Plugins/StreamDiffusionBridge/Source/ThirdParty/README.md");
		}
		PublicSystemIncludePaths.Add(IncludeDir);
		PublicDependencyModuleNames.Add("SDBridgeLibZmq");
	}
}
