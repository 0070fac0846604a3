// UnityEngine members the style-image reader uses (Runtime/Unity/Style/StyleTextureReader.cs), transcribed from the
// Unity 2022.3 LTS / Unity 6 Scripting API. Type-check stubs only (never shipped, never run): every body throws.
using System;

namespace UnityEngine
{
    public partial class Texture
    {
        // Texture.isReadable: whether the texture's data is also available on the CPU (Read/Write import setting).
        public virtual bool isReadable { get { throw null; } }
    }

    public sealed partial class Texture2D
    {
        // Texture2D.GetPixels32(int miplevel = 0): left to right, bottom to top; needs isReadable.
        public Color32[] GetPixels32(int miplevel = 0) { throw null; }
        // Texture2D.SetPixels32(Color32[] colors, int miplevel = 0): the same layout (Tests/Unity only).
        public void SetPixels32(Color32[] colors, int miplevel = 0) { throw null; }
    }

    public partial class RenderTexture
    {
        // RenderTexture.GetTemporary(int width, int height, int depthBuffer = 0, RenderTextureFormat format =
        // RenderTextureFormat.Default, RenderTextureReadWrite readWrite = RenderTextureReadWrite.Default,
        // int antiAliasing = 1): the defaults of format/readWrite are left out (the stub enums lack Default); the
        // package passes every argument but antiAliasing.
        public static RenderTexture GetTemporary(int width, int height, int depthBuffer, RenderTextureFormat format,
            RenderTextureReadWrite readWrite, int antiAliasing = 1) { throw null; }
        public static void ReleaseTemporary(RenderTexture temp) { throw null; }
    }

    public partial struct Color32
    {
        public Color32(byte r, byte g, byte b, byte a) { throw null; }
        public byte r;
        public byte g;
        public byte b;
        public byte a;
    }
}

namespace UnityEngine.Rendering
{
    public partial struct AsyncGPUReadbackRequest
    {
        // AsyncGPUReadbackRequest.GetData<T>(int layer = 0): valid until the callback returns.
        public Unity.Collections.NativeArray<T> GetData<T>(int layer = 0) where T : struct { throw null; }
    }

    public static partial class AsyncGPUReadback
    {
        // AsyncGPUReadback.Request(Texture src, int mipIndex, TextureFormat dstFormat, Action<AsyncGPUReadbackRequest>
        // callback); the package always passes the callback (null when it waits with WaitForCompletion).
        public static AsyncGPUReadbackRequest Request(Texture src, int mipIndex, TextureFormat dstFormat,
            Action<AsyncGPUReadbackRequest> callback) { throw null; }
    }
}
