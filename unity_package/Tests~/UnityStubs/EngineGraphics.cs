// UnityEngine textures, camera, GUI and readback types used by the package (Unity 2022.3 LTS / Unity 6 Scripting
// API signatures). Type-check stubs only (never shipped, never run): every body throws.
using System;

namespace UnityEngine
{
    public partial class Texture : Object
    {
        public virtual int width { get { throw null; } set { } }
        public virtual int height { get { throw null; } set { } }
    }

    public sealed partial class Texture2D : Texture
    {
        public Texture2D(int width, int height, TextureFormat textureFormat, bool mipChain, bool linear) { throw null; }
        public Unity.Collections.NativeArray<T> GetRawTextureData<T>() where T : struct { throw null; }
        public void Apply(bool updateMipmaps) { throw null; }
    }

    public partial class RenderTexture : Texture
    {
        public RenderTexture(int width, int height, int depth, RenderTextureFormat format, RenderTextureReadWrite readWrite) { throw null; }
        public bool Create() { throw null; }
        public void Release() { throw null; }
    }

    public enum TextureFormat
    {
        RGBA32 = 4,
    }

    public enum RenderTextureFormat
    {
        ARGB32 = 0,
        R8 = 16,
    }

    public enum RenderTextureReadWrite
    {
        Default = 0,
        Linear = 1,
        sRGB = 2,
    }

    public partial class Camera : Behaviour
    {
        public static Camera main { get { throw null; } }
        public RenderTexture targetTexture { get { throw null; } set { } }
        public void Render() { throw null; }
        // Scripting Reference 2022.3 / 6: public void CopyFrom(Camera other) (settings, transform and layer).
        public void CopyFrom(Camera other) { throw null; }
    }

    public partial class Graphics
    {
        public static void Blit(Texture source, RenderTexture dest) { throw null; }
    }

    public enum ScaleMode
    {
        StretchToFill = 0,
        ScaleAndCrop = 1,
        ScaleToFit = 2,
    }

    public sealed partial class GUIStyle
    {
    }

    // Scripting Reference 2022.3 / 6, GUI.Label: the two-argument overloads (Rect with string, Texture or GUIContent).
    public partial class GUI
    {
        public static void Label(Rect position, string text) { throw null; }
        public static void Label(Rect position, Texture image) { throw null; }
        public static void Label(Rect position, GUIContent content) { throw null; }
    }

    public partial class GUIContent
    {
        public GUIContent(string text, string tooltip) { throw null; }
    }

    public sealed partial class GUILayoutOption
    {
    }

    public partial class GUILayout
    {
        public static bool Button(string text, params GUILayoutOption[] options) { throw null; }
        public static bool Button(GUIContent content, params GUILayoutOption[] options) { throw null; }
        public static GUILayoutOption MinHeight(float minHeight) { throw null; }
    }

    public partial class GUILayoutUtility
    {
        public static Rect GetRect(float width, float height) { throw null; }
    }

    public partial class Material : Object
    {
    }
}

namespace UnityEngine.Rendering
{
    public partial struct AsyncGPUReadbackRequest
    {
        public bool done { get { throw null; } }
        public bool hasError { get { throw null; } }
        public void Update() { throw null; }
        public void WaitForCompletion() { throw null; }
    }

    public static partial class AsyncGPUReadback
    {
        public static AsyncGPUReadbackRequest RequestIntoNativeArray<T>(ref Unity.Collections.NativeArray<T> output,
            Texture src, int mipIndex, TextureFormat dstFormat, Action<AsyncGPUReadbackRequest> callback = null)
            where T : struct { throw null; }
        public static AsyncGPUReadbackRequest RequestIntoNativeArray<T>(ref Unity.Collections.NativeArray<T> output,
            Texture src, int mipIndex, UnityEngine.Experimental.Rendering.GraphicsFormat dstFormat,
            Action<AsyncGPUReadbackRequest> callback = null) where T : struct { throw null; }
        public static void WaitAllRequests() { throw null; }
    }
}
