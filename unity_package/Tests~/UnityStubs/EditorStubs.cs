// UnityEditor types used by the package's Editor assembly (Unity 2022.3 LTS / Unity 6 Scripting API signatures).
// Type-check stubs only (never shipped, never run): every body throws.
#pragma warning disable 0067
using System;
using System.Collections.Generic;
using UnityEngine;
using Object = UnityEngine.Object;

namespace UnityEditor
{
    public partial class EditorWindow : ScriptableObject
    {
        public Rect position { get { throw null; } set { } }
        public static T GetWindow<T>(string title) where T : EditorWindow { throw null; }
        public void Repaint() { throw null; }
    }

    public partial class Editor : ScriptableObject
    {
        public Object target { get { throw null; } set { } }
        public virtual void OnInspectorGUI() { throw null; }
        public virtual bool RequiresConstantRepaint() { throw null; }
        public bool DrawDefaultInspector() { throw null; }
    }

    [AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
    public partial class CustomEditor : Attribute
    {
        public CustomEditor(Type inspectedType) { throw null; }
    }

    [AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
    public sealed partial class MenuItem : Attribute
    {
        public MenuItem(string itemName) { throw null; }
    }

    public enum PlayModeStateChange
    {
        EnteredEditMode = 0,
        ExitingEditMode = 1,
        EnteredPlayMode = 2,
        ExitingPlayMode = 3,
    }

    public sealed partial class EditorApplication
    {
        public delegate void CallbackFunction();
        public static CallbackFunction update;
        public static event Action<PlayModeStateChange> playModeStateChanged;
        public static event Action quitting;
        public static bool isPlayingOrWillChangePlaymode { get { throw null; } }
        public static double timeSinceStartup { get { throw null; } }
        public static void QueuePlayerLoopUpdate() { throw null; }
    }

    public static partial class AssemblyReloadEvents
    {
        public delegate void AssemblyReloadCallback();
        public static event AssemblyReloadCallback beforeAssemblyReload;
    }

    public enum MessageType
    {
        None = 0,
        Info = 1,
        Warning = 2,
        Error = 3,
    }

    public sealed partial class EditorStyles
    {
        public static GUIStyle boldLabel { get { throw null; } }
    }

    public partial class EditorGUILayout
    {
        public static void LabelField(string label, params GUILayoutOption[] options) { throw null; }
        public static void LabelField(string label, GUIStyle style, params GUILayoutOption[] options) { throw null; }
        public static void LabelField(string label, string label2, params GUILayoutOption[] options) { throw null; }
        public static string TextField(string label, string text, params GUILayoutOption[] options) { throw null; }
        public static string TextArea(string text, params GUILayoutOption[] options) { throw null; }
        public static void BeginHorizontal(params GUILayoutOption[] options) { throw null; }
        public static void EndHorizontal() { throw null; }
        public static void Space() { throw null; }
        public static void HelpBox(string message, MessageType type) { throw null; }
        public static bool PropertyField(SerializedProperty property, params GUILayoutOption[] options) { throw null; }
        public static bool Toggle(string label, bool value, params GUILayoutOption[] options) { throw null; }
        public static Enum EnumPopup(string label, Enum selected, params GUILayoutOption[] options) { throw null; }
    }

    public sealed partial class EditorGUI
    {
        public partial struct DisabledScope : IDisposable
        {
            public DisabledScope(bool disabled) { throw null; }
            public void Dispose() { throw null; }
        }

        public static void DrawPreviewTexture(Rect position, Texture image, Material mat, ScaleMode scaleMode) { throw null; }
    }

    public sealed partial class AssetDatabase
    {
        public static T LoadAssetAtPath<T>(string assetPath) where T : Object { throw null; }
        public static bool IsValidFolder(string path) { throw null; }
        public static string CreateFolder(string parentFolder, string newFolderName) { throw null; }
        public static void CreateAsset(Object asset, string path) { throw null; }
        public static void SaveAssets() { throw null; }
    }

    public enum SettingsScope
    {
        User = 0,
        Project = 1,
    }

    public partial class SettingsProvider
    {
        public SettingsProvider(string path, SettingsScope scopes, IEnumerable<string> keywords = null) { throw null; }
        public string label { get { throw null; } set { } }
        public Action<string> guiHandler { get { throw null; } set { } }
        public IEnumerable<string> keywords { get { throw null; } set { } }
    }

    [AttributeUsage(AttributeTargets.Method)]
    public sealed partial class SettingsProviderAttribute : Attribute
    {
    }

    public partial class SerializedObject : IDisposable
    {
        public SerializedObject(Object obj) { throw null; }
        public Object targetObject { get { throw null; } }
        public void Update() { throw null; }
        public bool ApplyModifiedProperties() { throw null; }
        public SerializedProperty FindProperty(string propertyPath) { throw null; }
        public void Dispose() { throw null; }
    }

    public partial class SerializedProperty
    {
        public string stringValue { get { throw null; } set { } }
    }

    public partial class AssetImporter : Object
    {
        public string assetPath { get { throw null; } }
        public bool importSettingsMissing { get { throw null; } }
    }

    public sealed partial class PluginImporter : AssetImporter
    {
        public void SetCompatibleWithAnyPlatform(bool enable) { throw null; }
        public void SetCompatibleWithEditor(bool enable) { throw null; }
        public void SetCompatibleWithPlatform(BuildTarget platform, bool enable) { throw null; }
        public void SetPlatformData(BuildTarget platform, string key, string value) { throw null; }
        public void SetEditorData(string key, string value) { throw null; }
    }

    public partial class AssetPostprocessor
    {
        public string assetPath { get { throw null; } set { } }
        public AssetImporter assetImporter { get { throw null; } }
    }

    public enum BuildTarget
    {
        StandaloneOSX = 2,
        StandaloneWindows64 = 19,
        iOS = 9,
        Android = 13,
        StandaloneLinux64 = 24,
    }
}
