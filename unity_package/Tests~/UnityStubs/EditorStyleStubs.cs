// UnityEditor members the editor preview's style-image section uses (Editor/StylePreviewSection.cs), transcribed
// from the Unity 2022.3 LTS / Unity 6 Scripting API. Type-check stubs only (never shipped, never run).
using System;
using UnityEngine;

namespace UnityEditor
{
    public partial class EditorGUILayout
    {
        // EditorGUILayout.ObjectField(string label, Object obj, Type objType, bool allowSceneObjects, params GUILayoutOption[] options)
        public static UnityEngine.Object ObjectField(string label, UnityEngine.Object obj, Type objType, bool allowSceneObjects,
            params GUILayoutOption[] options) { throw null; }
        // EditorGUILayout.Slider(string label, float value, float leftValue, float rightValue, params GUILayoutOption[] options)
        public static float Slider(string label, float value, float leftValue, float rightValue,
            params GUILayoutOption[] options) { throw null; }
    }
}
