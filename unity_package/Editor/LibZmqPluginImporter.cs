// Import settings for the libzmq native library of the native transport (TransportKind.Native, CurveZMQ).
// The package ships no binary (you build or download libzmq 4.x for your platforms); when you add one under
// Assets/ (any folder) with the names below, this AssetPostprocessor sets its PluginImporter platforms on the
// FIRST import only (AssetImporter.importSettingsMissing), so later changes you make in the Inspector stay:
//   libzmq.dll                          Windows x86_64 player + Windows editor
//   libzmq.so  (not under an Android/)  Linux x86_64 player + Linux editor
//   libzmq.dylib or libzmq.bundle       macOS player + macOS editor
//   .../Android/<abi>/libzmq.so         Android, abi arm64-v8a (ARM64), armeabi-v7a (ARMv7) or x86_64
//   libzmq.a                            iOS (static; the core's DllImport uses "__Internal" on iOS players)
// The same settings ship as ready .meta files in the package folder Plugins~/libzmq (copy one next to your
// binary instead, if you prefer a committed .meta).
// NOT COMPILED OR RUN HERE against the real engine (no Unity editor on the build machines): type-checked with
// mono against the API stubs of unity_package/Tests~/UnityStubs. Written against Unity 2022.3 LTS / Unity 6
// documented AssetPostprocessor.OnPreprocessAsset and PluginImporter (SetCompatibleWithAnyPlatform,
// SetCompatibleWithEditor, SetCompatibleWithPlatform, SetPlatformData, SetEditorData) API.
using System.IO;
using UnityEditor;

namespace StreamDiffusion.Bridge.Editor
{
    internal sealed class LibZmqPluginImporter : AssetPostprocessor
    {
        private void OnPreprocessAsset()
        {
            var plugin = assetImporter as PluginImporter;
            if (plugin == null || !plugin.importSettingsMissing) return;
            string name = Path.GetFileName(assetPath);
            if (!name.StartsWith("libzmq.")) return;
            string extension = Path.GetExtension(assetPath).ToLowerInvariant();
            plugin.SetCompatibleWithAnyPlatform(false);
            if (extension == ".a")
            {
                plugin.SetCompatibleWithPlatform(BuildTarget.iOS, true);
            }
            else if (extension == ".so" && assetPath.Replace('\\', '/').Contains("/Android/"))
            {
                plugin.SetCompatibleWithPlatform(BuildTarget.Android, true);
                plugin.SetPlatformData(BuildTarget.Android, "CPU", AndroidCpu(assetPath));
            }
            else if (extension == ".dll")
            {
                Desktop(plugin, BuildTarget.StandaloneWindows64, "Windows", "x86_64");
            }
            else if (extension == ".so")
            {
                Desktop(plugin, BuildTarget.StandaloneLinux64, "Linux", "x86_64");
            }
            else if (extension == ".dylib" || extension == ".bundle")
            {
                Desktop(plugin, BuildTarget.StandaloneOSX, "OSX", "AnyCPU");
            }
        }

        private static void Desktop(PluginImporter plugin, BuildTarget target, string editorOs, string cpu)
        {
            plugin.SetCompatibleWithPlatform(target, true);
            plugin.SetPlatformData(target, "CPU", cpu);
            plugin.SetCompatibleWithEditor(true);
            plugin.SetEditorData("OS", editorOs);
            plugin.SetEditorData("CPU", cpu);
        }

        private static string AndroidCpu(string path)
        {
            string folder = Path.GetFileName(Path.GetDirectoryName(path));
            if (folder == "armeabi-v7a") return "ARMv7";
            if (folder == "x86_64") return "X86_64";
            return "ARM64";
        }
    }
}
