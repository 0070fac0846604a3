// External module: libzmq 4.3.x, one prebuilt library per platform, delay-loaded where the platform allows.
// Nothing here is committed; see ../README.md for how to obtain the files. Written against Epic's documented
// ModuleRules API (Type = External, PublicAdditionalLibraries, PublicDelayLoadDLLs, RuntimeDependencies);
// not compiled here (no Unreal Engine on the build machines).
using System.IO;
using System.Linq;
using UnrealBuildTool;

public class libzmq : ModuleRules
{
	public libzmq(ReadOnlyTargetRules Target) : base(Target)
	{
		Type = ModuleType.External;

		string IncludeDir = Path.Combine(ModuleDirectory, "include");
		RequireFile(Path.Combine(IncludeDir, "zmq.h"));
		PublicSystemIncludePaths.Add(IncludeDir);

		string PluginBinaries = Path.Combine(PluginDirectory, "Binaries", "ThirdParty", "libzmq");

		if (Target.Platform == UnrealTargetPlatform.Win64)
		{
			// vcpkg's zeromq:x64-windows gives libzmq-mt-4_3_5.lib + libzmq-mt-4_3_5.dll: take whatever single
			// import library is there, and the DLL of the same name (the import library names its DLL).
			string LibDir = Path.Combine(ModuleDirectory, "lib", "Win64");
			string ImportLib = SingleFile(LibDir, "*.lib");
			string DllName = Path.GetFileNameWithoutExtension(ImportLib) + ".dll";
			string Dll = Path.Combine(PluginBinaries, "Win64", DllName);
			RequireFile(Dll);
			PublicAdditionalLibraries.Add(ImportLib);
			PublicDelayLoadDLLs.Add(DllName);
			RuntimeDependencies.Add("$(BinaryOutputDir)/" + DllName, Dll);
			PublicDefinitions.Add("SDB_LIBZMQ_DLL_NAME=TEXT(\"" + DllName + "\")");
			PublicDefinitions.Add("SDB_LIBZMQ_DLL_DIR=TEXT(\"Binaries/ThirdParty/libzmq/Win64\")");
		}
		else if (Target.Platform == UnrealTargetPlatform.Mac)
		{
			// Homebrew's libzmq.5.dylib, install name changed to @rpath/libzmq.5.dylib (see README).
			string Dylib = Path.Combine(PluginBinaries, "Mac", "libzmq.5.dylib");
			RequireFile(Dylib);
			PublicDelayLoadDLLs.Add(Dylib);
			RuntimeDependencies.Add(Dylib);
		}
		else if (Target.Platform == UnrealTargetPlatform.Linux)
		{
			// Linux has no delay loading: libzmq.so.5 is linked and shipped next to the plugin binaries.
			string So = Path.Combine(PluginBinaries, "Linux", "libzmq.so.5");
			RequireFile(So);
			PublicAdditionalLibraries.Add(So);
			RuntimeDependencies.Add(So);
		}
		else
		{
			throw new BuildException("StreamDiffusionBridge: no libzmq build for " + Target.Platform +
				"; supported: Win64, Mac, Linux (see Source/ThirdParty/README.md)");
		}
	}

	static void RequireFile(string Path_)
	{
		if (!File.Exists(Path_))
		{
			throw new BuildException("StreamDiffusionBridge: missing " + Path_ +
				"; obtain the third-party files as described in Plugins/StreamDiffusionBridge/Source/ThirdParty/README.md");
		}
	}

	static string SingleFile(string Dir, string Pattern)
	{
		string[] Found = Directory.Exists(Dir) ? Directory.GetFiles(Dir, Pattern) : new string[0];
		if (Found.Length != 1)
		{
			throw new BuildException("StreamDiffusionBridge: expected exactly one " + Pattern + " in " + Dir + ", found " +
				Found.Length + " (" + string.Join(", ", Found.Select(Path.GetFileName)) +
				"); see Source/ThirdParty/README.md");
		}
		return Found[0];
	}
}
