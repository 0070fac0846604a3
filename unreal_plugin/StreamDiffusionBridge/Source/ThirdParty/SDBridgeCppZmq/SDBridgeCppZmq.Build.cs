// External module: cppzmq headers (zmq.hpp, zmq_addon.hpp; 4.9 or newer), header-only, not committed.
// Used only by core/src/client.cpp (its exceptions never leave that translation unit).
// Written against Epic's documented ModuleRules API; not compiled here.
using System.IO;
using UnrealBuildTool;

public class cppzmq : ModuleRules
{
	public cppzmq(ReadOnlyTargetRules Target) : base(Target)
	{
		Type = ModuleType.External;
		string IncludeDir = Path.Combine(ModuleDirectory, "include");
		if (!File.Exists(Path.Combine(IncludeDir, "zmq.hpp")))
		{
			throw new BuildException("StreamDiffusionBridge: missing " + Path.Combine(IncludeDir, "zmq.hpp") +
				"; obtain cppzmq as described in Source/ThirdParty/README.md");
		}
		PublicSystemIncludePaths.Add(IncludeDir);
		PublicDependencyModuleNames.Add("libzmq");
	}
}
