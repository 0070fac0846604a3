// Stubs of the Unity rendering API that the capture / display / reprojection layer uses (Runtime/Unity/Capture,
// Runtime/Unity/Display, StreamDiffusionCamera.cs), for the mono type-check of the Unity layer (no Unity here).
// Written from Unity's documented signatures (Unity 2022.3 LTS and Unity 6 Scripting Reference): only the members
// the package uses, bodies that throw. Every type is partial (see README.md); the general stubs (MonoBehaviour,
// Texture2D, Debug, ...) live in the Engine*.cs files of this folder.
#pragma warning disable 0660, 0661, 0067
using System;

namespace UnityEngine
{
    public partial struct Vector4
    {
        public float x;
        public float y;
        public float z;
        public float w;
        public Vector4(float x, float y, float z, float w) { throw null; }
        public static Vector4 one { get { throw null; } }
    }

    public partial struct Matrix4x4
    {
        public float m00, m01, m02, m03, m10, m11, m12, m13, m20, m21, m22, m23, m30, m31, m32, m33;
        public float this[int row, int column] { get { throw null; } set { } }
        public static Matrix4x4 identity { get { throw null; } }
        public static Matrix4x4 operator *(Matrix4x4 lhs, Matrix4x4 rhs) { throw null; }
        public bool Equals(Matrix4x4 other) { throw null; }
    }

    public sealed partial class GL
    {
        public static Matrix4x4 GetGPUProjectionMatrix(Matrix4x4 proj, bool renderIntoTexture) { throw null; }
    }

    public sealed partial class Shader : Object
    {
        public static Shader Find(string name) { throw null; }
        public static int PropertyToID(string name) { throw null; }
    }

    public partial class Material : Object
    {
        public Material(Shader shader) { throw null; }
        public void EnableKeyword(string keyword) { throw null; }
        public void DisableKeyword(string keyword) { throw null; }
    }

    public partial class Object
    {
        public HideFlags hideFlags { get { throw null; } set { } }
    }

    [Flags]
    public enum HideFlags
    {
        None = 0,
        HideInHierarchy = 1,
        HideInInspector = 2,
        DontSaveInEditor = 4,
        NotEditable = 8,
        DontSaveInBuild = 16,
        DontUnloadUnusedAsset = 32,
        DontSave = 52,
        HideAndDontSave = 61,
    }

    public enum FilterMode
    {
        Point = 0,
        Bilinear = 1,
        Trilinear = 2,
    }

    public partial class Texture
    {
        public FilterMode filterMode { get { throw null; } set { } }
        public UnityEngine.Rendering.TextureDimension dimension { get { throw null; } set { } }
    }

    public partial class RenderTexture
    {
        // Unity 2022.3 / 6: RenderTexture(int width, int height, int depth, Experimental.Rendering.GraphicsFormat format)
        public RenderTexture(int width, int height, int depth, UnityEngine.Experimental.Rendering.GraphicsFormat format) { throw null; }
    }

    public enum MeshTopology
    {
        Triangles = 0,
        Quads = 2,
        Lines = 3,
        LineStrip = 4,
        Points = 5,
    }

    public enum CubemapFace
    {
        Unknown = -1,
        PositiveX = 0,
        NegativeX = 1,
        PositiveY = 2,
        NegativeY = 3,
        PositiveZ = 4,
        NegativeZ = 5,
    }

    [Flags]
    public enum DepthTextureMode
    {
        None = 0,
        Depth = 1,
        DepthNormals = 2,
        MotionVectors = 4,
    }
}

namespace UnityEngine.Experimental.Rendering
{
    public enum GraphicsFormat
    {
        None = 0,
        R8_UNorm = 5,
        R16G16_SFloat = 46,
        R16G16B16A16_SFloat = 48,
        R32_SFloat = 49,
    }
}

namespace UnityEngine.Rendering
{
    public enum CameraEvent
    {
        AfterEverything = 20,
    }

    public enum BuiltinRenderTextureType
    {
        CurrentActive = 1,
        CameraTarget = 2,
        Depth = 3,
    }

    public enum GraphicsDeviceType
    {
        Direct3D11 = 2,
        Null = 4,
        OpenGLES3 = 11,
        Metal = 16,
        OpenGLCore = 17,
        Direct3D12 = 18,
        Vulkan = 21,
    }

    public enum TextureDimension
    {
        Unknown = -1,
        None = 0,
        Any = 1,
        Tex2D = 2,
        Tex3D = 3,
        Cube = 4,
        Tex2DArray = 5,
        CubeArray = 6,
    }

    public partial struct RenderTargetIdentifier
    {
        public static implicit operator RenderTargetIdentifier(BuiltinRenderTextureType type) { throw null; }
        public static implicit operator RenderTargetIdentifier(Texture tex) { throw null; }
        public static bool operator ==(RenderTargetIdentifier lhs, RenderTargetIdentifier rhs) { throw null; }
        public static bool operator !=(RenderTargetIdentifier lhs, RenderTargetIdentifier rhs) { throw null; }
    }

    public partial class CommandBuffer : IDisposable
    {
        public string name { get { throw null; } set { } }
        public void Clear() { throw null; }
        public void Release() { throw null; }
        public void Dispose() { throw null; }
        public void SetGlobalFloat(int nameID, float value) { throw null; }
        public void SetGlobalVector(int nameID, Vector4 value) { throw null; }
        public void SetGlobalMatrix(int nameID, Matrix4x4 value) { throw null; }
        public void SetGlobalTexture(int nameID, RenderTargetIdentifier value) { throw null; }
        public void SetRenderTarget(RenderTargetIdentifier rt) { throw null; }
        public void SetRenderTarget(RenderTargetIdentifier rt, int mipLevel, CubemapFace cubemapFace, int depthSlice) { throw null; }
        public void SetRenderTarget(RenderTargetIdentifier color, RenderTargetIdentifier depth) { throw null; }
        public void SetViewport(Rect pixelRect) { throw null; }
        public void DrawProcedural(Matrix4x4 matrix, Material material, int shaderPass, MeshTopology topology, int vertexCount, int instanceCount) { throw null; }
        public void Blit(Texture source, RenderTargetIdentifier dest, Material mat, int pass) { throw null; }
        public void Blit(RenderTargetIdentifier source, RenderTargetIdentifier dest, Material mat, int pass) { throw null; }
    }

    public partial struct ScriptableRenderContext
    {
        public void ExecuteCommandBuffer(CommandBuffer commandBuffer) { throw null; }
    }

    public abstract partial class RenderPipelineAsset : ScriptableObject
    {
    }

    public sealed partial class GraphicsSettings : Object
    {
        public static RenderPipelineAsset currentRenderPipeline { get { throw null; } }
    }

    public static partial class RenderPipelineManager
    {
        public static event Action<ScriptableRenderContext, Camera> beginCameraRendering;
    }
}
