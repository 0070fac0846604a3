// Stubs of the Scriptable Render Pipeline Core package (com.unity.render-pipelines.core 14 for Unity 2022.3 LTS,
// 17 for Unity 6) members the URP / HDRP hooks use. Written from the package's documented API; bodies throw.
// The render graph types are Unity 6 (Core 17, namespace UnityEngine.Rendering.RenderGraphModule); the package uses
// them only under UNITY_6000_0_OR_NEWER, but the stubs declare them always (one stub assembly for every check).
#pragma warning disable 0660, 0661
using System;

namespace UnityEngine.Rendering
{
    public partial struct RTHandleProperties
    {
        public Vector4 rtHandleScale;
    }

    public partial class RTHandle
    {
        public RenderTexture rt { get { throw null; } }
        public RenderTargetIdentifier nameID { get { throw null; } }
        public RTHandleProperties rtHandleProperties { get { throw null; } }
        // Core 14 / 17 RTHandle: implicit conversions to RenderTargetIdentifier, Texture and RenderTexture.
        public static implicit operator RenderTargetIdentifier(RTHandle handle) { throw null; }
        public static implicit operator Texture(RTHandle handle) { throw null; }
        public static implicit operator RenderTexture(RTHandle handle) { throw null; }
    }

    public static partial class CommandBufferPool
    {
        public static CommandBuffer Get(string name) { throw null; }
        public static void Release(CommandBuffer buffer) { throw null; }
    }

    // Core 17 (Unity 6).
    public abstract partial class ContextItem
    {
    }

    public partial class ContextContainer
    {
        public T Get<T>() where T : ContextItem, new() { throw null; }
    }

    public partial class UnsafeCommandBuffer
    {
    }

    public static partial class CommandBufferHelpers
    {
        public static CommandBuffer GetNativeCommandBuffer(UnsafeCommandBuffer baseBuffer) { throw null; }
    }
}

namespace UnityEngine.Rendering.RenderGraphModule
{
    [Flags]
    public enum AccessFlags
    {
        None = 0,
        Read = 1,
        Write = 2,
        Discard = 4,
        WriteAll = 6,
        ReadWrite = 3,
    }

    public partial struct TextureHandle
    {
        public bool IsValid() { throw null; }
        public static implicit operator RenderTargetIdentifier(TextureHandle texture) { throw null; }
        public static implicit operator Texture(TextureHandle texture) { throw null; }
        public static implicit operator RTHandle(TextureHandle texture) { throw null; }
        // Core 17 TextureHandle also converts to RenderTexture (all four conversions: valid inside a render function).
        public static implicit operator RenderTexture(TextureHandle texture) { throw null; }
    }

    public partial class UnsafeGraphContext
    {
        public UnsafeCommandBuffer cmd { get { throw null; } }
    }

    public delegate void BaseRenderFunc<PassData, ContextType>(PassData data, ContextType renderGraphContext) where PassData : class, new();

    public partial interface IBaseRenderGraphBuilder : IDisposable
    {
        void UseTexture(in TextureHandle input, AccessFlags flags = AccessFlags.Read);
        void AllowPassCulling(bool value);
        void AllowGlobalStateModification(bool value);
    }

    public partial interface IUnsafeRenderGraphBuilder : IBaseRenderGraphBuilder
    {
        void SetRenderFunc<PassData>(BaseRenderFunc<PassData, UnsafeGraphContext> renderFunc) where PassData : class, new();
    }

    public partial class RenderGraph
    {
        public IUnsafeRenderGraphBuilder AddUnsafePass<PassData>(string passName, out PassData passData,
            [System.Runtime.CompilerServices.CallerFilePath] string file = "",
            [System.Runtime.CompilerServices.CallerLineNumber] int line = 0) where PassData : class, new() { throw null; }
    }
}
