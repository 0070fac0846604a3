// External module: FlatBuffers 2.0.8 C++ headers (include/flatbuffers/), exactly the version of the flatc
// (Debian's flatbuffers-compiler 2.0.8) that generated core/include/sdbridge/generated/bridge_generated.h.
// Prefixed name: cannot collide with another plugin's "flatbuffers" module. See ../README.md for how to obtain
// the headers. Written against Epic's documented ModuleRules API (UE 5.3-5.5); NOT compiled here.
using System.IO;
using System.Text.RegularExpressions;
using UnrealBuildTool;

public class SDBridgeFlatBuffers : ModuleRules
{
	public SDBridgeFlatBuffers(ReadOnlyTargetRules Target) : base(Target)
	{
		Type = ModuleType.External;
		string IncludeDir = Path.Combine(ModuleDirectory, "include");
		string BaseH = Path.Combine(IncludeDir, "flatbuffers", "base.h");
		if (!File.Exists(BaseH))
		{
			throw new BuildException("StreamDiffusionBridge: missing " + BaseH +
				"; obtain the FlatBuffers 2.0.8 headers as described in Plugins/StreamDiffusionBridge/Source/ThirdParty/README.md");
		}
		string Text = File.ReadAllText(BaseH);
		string Version = Field(Text, "MAJOR") + "." + Field(Text, "MINOR") + "." + Field(Text, "REVISION");
		if (Version != "2.0.8")
		{
			throw new BuildException("StreamDiffusionBridge: " + BaseH + " is FlatBuffers " + Version +
				", the generated code needs exactly 2.0.8 (tag v2.0.8); see Plugins/StreamDiffusionBridge/Source/ThirdParty/README.md");
		}
		PublicSystemIncludePaths.Add(IncludeDir);
	}

	static string Field(string Text, string Name)
	{
		Match M = Regex.Match(Text, @"#define\s+FLATBUFFERS_VERSION_" + Name + @"\s+(\d+)");
		return M.Success ? M.Groups[1].Value : "?";
	}
}
