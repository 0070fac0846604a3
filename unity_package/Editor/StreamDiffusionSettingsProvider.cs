// Project Settings page "StreamDiffusion Bridge": edits Assets/Resources/StreamDiffusionSettings.asset
// (created on first use) through a SerializedObject, so undo and prefab-style dirtying work as usual.
// NOT COMPILED OR RUN HERE against the real engine (no Unity editor on the build machines): type-checked with
// mono against the API stubs of unity_package/Tests~/UnityStubs. Written against Unity 2022.3 LTS / Unity 6
// documented SettingsProvider / SettingsScope.Project / AssetDatabase API.
using System.Collections.Generic;
using System.IO;
using UnityEditor;
using UnityEngine;

namespace StreamDiffusion.Bridge.Editor
{
    internal static class StreamDiffusionSettingsProvider
    {
        public const string SettingsPath = "Project/StreamDiffusion Bridge";

        /// <summary>The settings asset, created with defaults if the project has none yet.</summary>
        public static StreamDiffusionSettings GetOrCreate()
        {
            var settings = AssetDatabase.LoadAssetAtPath<StreamDiffusionSettings>(StreamDiffusionSettings.AssetPath);
            if (settings != null) return settings;
            settings = ScriptableObject.CreateInstance<StreamDiffusionSettings>();
            string folder = Path.GetDirectoryName(StreamDiffusionSettings.AssetPath);
            if (!AssetDatabase.IsValidFolder(folder)) AssetDatabase.CreateFolder("Assets", "Resources");
            AssetDatabase.CreateAsset(settings, StreamDiffusionSettings.AssetPath);
            AssetDatabase.SaveAssets();
            return settings;
        }

        [SettingsProvider]
        public static SettingsProvider Create()
        {
            SerializedObject serialized = null;
            return new SettingsProvider(SettingsPath, SettingsScope.Project)
            {
                label = "StreamDiffusion Bridge",
                guiHandler = searchContext =>
                {
                    if (serialized == null || serialized.targetObject == null)
                        serialized = new SerializedObject(GetOrCreate());
                    serialized.Update();
                    EditorGUILayout.HelpBox(
                        "Start the server with `sdbridge serve --bind " +
                        serialized.FindProperty("endpoint").stringValue + "`. The package major version must " +
                        "equal the server's protocol major.", MessageType.Info);
                    EditorGUILayout.PropertyField(serialized.FindProperty("endpoint"));
                    EditorGUILayout.PropertyField(serialized.FindProperty("transport"));
                    EditorGUILayout.PropertyField(serialized.FindProperty("prompt"));
                    EditorGUILayout.PropertyField(serialized.FindProperty("negativePrompt"));
                    EditorGUILayout.PropertyField(serialized.FindProperty("captureWidth"));
                    EditorGUILayout.PropertyField(serialized.FindProperty("captureHeight"));
                    EditorGUILayout.PropertyField(serialized.FindProperty("maxSendFps"));
                    EditorGUILayout.PropertyField(serialized.FindProperty("logRetries"));
                    EditorGUILayout.PropertyField(serialized.FindProperty("curveServerKey"));
                    EditorGUILayout.PropertyField(serialized.FindProperty("curveClientCertificate"));
                    EditorGUILayout.HelpBox(
                        "The client's CurveZMQ secret key never goes into this asset (it ships in every build): keep " +
                        "NAME.key_secret from `sdbridge keys generate` outside Assets/ and point the path above, or " +
                        "the environment variable SDBRIDGE_CURVE_CLIENT_CERT, at it.", MessageType.None);
                    serialized.ApplyModifiedProperties();
                },
                keywords = new HashSet<string>(new[] { "StreamDiffusion", "diffusion", "endpoint", "prompt", "zeromq" }),
            };
        }
    }
}
