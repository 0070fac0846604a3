// External module: libzmq 4.3.x (the ZeroMQ C library), one prebuilt library per platform, kept in this
// module's folder so that version control and BuildPlugin keep it and a packaged game stages it:
//   include/zmq.h                                   all platforms
//   Win64/<name>.lib + Win64/<name>.dll             import library + DLL (e.g. libzmq-mt-4_3_5), delay-loaded
//   Linux/libzmq.so.5                               shared, built with no optional dependencies (see README)
//   Mac/libzmq.a                                    static (Apple clang + the system libc++), CURVE via tweetnacl
// The name is prefixed (SDBridgeLibZmq) so it cannot collide with another plugin's "libzmq" module.
// Written against Epic's documented ModuleRules API (UE 5.3-5.5): Type = External, PublicSystemIncludePaths,
// PublicAdditionalLibraries, PublicDelayLoadDLLs, PublicRuntimeLibraryPaths, RuntimeDependencies.
// NOT compiled here (no Unreal Engine on the build machines); see ../README.md for how to obtain the files.
using System.IO;
using System.Linq;
using UnrealBuildTool;

public class SDBridgeLibZmq : ModuleRules
{
	public SDBridgeLibZmq(ReadOnlyTargetRules Target) : base(Target)
	{
		Type = ModuleType.External;

		string IncludeDir = Path.Combine(ModuleDirectory, "include");
		RequireFile(Path.Combine(IncludeDir, "zmq.h"));
		PublicSystemIncludePaths.Add(IncludeDir);

		if (Target.Platform == UnrealTargetPlatform.Win64)
		{
			// vcpkg's zeromq:x64-windows gives libzmq-mt-4_3_5.lib + libzmq-mt-4_3_5.dll: take the single import
			// library in Win64/ and the DLL of the same name (the import library names its DLL).
			string PlatformDir = Path.Combine(ModuleDirectory, "Win64");
			string ImportLib = SingleFile(PlatformDir, "*.lib");
			string DllName = Path.GetFileNameWithoutExtension(ImportLib) + ".dll";
			string Dll = Path.Combine(PlatformDir, DllName);
			RequireFile(Dll);
			PublicAdditionalLibraries.Add(ImportLib);
			// Loaded by FStreamDiffusionBridgeModule::StartupModule from $(BinaryOutputDir), where the DLL is
			// staged: the plugin's Binaries/Win64 in editor builds, the game's Binaries/Win64 when packaged.
			PublicDelayLoadDLLs.Add(DllName);
			RuntimeDependencies.Add("$(BinaryOutputDir)/" + DllName, Dll);
			PublicDefinitions.Add("SDB_LIBZMQ_DLL_NAME=TEXT(\"" + DllName + "\")");
		}
		else if (Target.Platform == UnrealTargetPlatform.Linux)
		{
			// Shared (a static libzmq would bring libstdc++ objects into UE's libc++ build). Linked by soname,
			// found at run time through the rpath UBT writes for PublicRuntimeLibraryPaths, and staged at the same
			// relative path by RuntimeDependencies. Build it without libsodium/pgm/norm/gssapi (README) so that
			// it needs nothing beyond libc and libstdc++.
			string PlatformDir = Path.Combine(ModuleDirectory, "Linux");
			string So = Path.Combine(PlatformDir, "libzmq.so.5");
			RequireFile(So);
			PublicAdditionalLibraries.Add(So);
			PublicRuntimeLibraryPaths.Add(PlatformDir);
			RuntimeDependencies.Add(So);
		}
		else if (Target.Platform == UnrealTargetPlatform.Mac)
		{
			// Static: nothing to sign, stage or find at run time.
			string Lib = Path.Combine(ModuleDirectory, "Mac", "libzmq.a");
			RequireFile(Lib);
			PublicAdditionalLibraries.Add(Lib);
		}
		else
		{
			throw new BuildException("StreamDiffusionBridge: no libzmq build for " + Target.Platform +
				"; supported: Win64, Linux, Mac (see Plugins/StreamDiffusionBridge/Source/ThirdParty/README.md)");
		}
	}

	static void RequireFile(string FilePath)
	{
		if (!File.Exists(FilePath))
		{
			throw new BuildException("StreamDiffusionBridge: missing " + FilePath +
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
				"); see Plugins/StreamDiffusionBridge/Source/ThirdParty/README.md");
		}
		return Found[0];
	}
}
