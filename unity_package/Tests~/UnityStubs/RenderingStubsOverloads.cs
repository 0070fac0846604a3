// The other overloads of the CommandBuffer methods the package calls (Blit, SetRenderTarget), with the arities the
// package's calls have. The package does not call these, but C# picks an overload among all of them: with only the
// overloads the package uses, a call that is ambiguous in Unity (CS0121) would compile here. Written from the Unity
// 2022.3 LTS / Unity 6 Scripting Reference (CommandBuffer.Blit, CommandBuffer.SetRenderTarget, RenderTargetBinding,
// RenderBufferLoadAction, RenderBufferStoreAction, Vector2). Type-check stubs only (never shipped, never run).
namespace UnityEngine
{
    public partial struct Vector2
    {
        public float x;
        public float y;
    }
}

namespace UnityEngine.Rendering
{
    public enum RenderBufferLoadAction
    {
        Load = 0,
        Clear = 1,
        DontCare = 2,
    }

    public enum RenderBufferStoreAction
    {
        Store = 0,
        Resolve = 1,
        StoreAndResolve = 2,
        DontCare = 3,
    }

    public partial struct RenderTargetBinding
    {
        public RenderTargetBinding(RenderTargetIdentifier color, RenderBufferLoadAction colorLoadAction,
            RenderBufferStoreAction colorStoreAction, RenderTargetIdentifier depth, RenderBufferLoadAction depthLoadAction,
            RenderBufferStoreAction depthStoreAction) { throw null; }
    }

    public partial class CommandBuffer
    {
        public void Blit(Texture source, RenderTargetIdentifier dest) { throw null; }
        public void Blit(Texture source, RenderTargetIdentifier dest, Material mat) { throw null; }
        public void Blit(Texture source, RenderTargetIdentifier dest, Vector2 scale, Vector2 offset) { throw null; }
        public void Blit(Texture source, RenderTargetIdentifier dest, Material mat, int pass, int destDepthSlice) { throw null; }
        public void Blit(RenderTargetIdentifier source, RenderTargetIdentifier dest) { throw null; }
        public void Blit(RenderTargetIdentifier source, RenderTargetIdentifier dest, Material mat) { throw null; }
        public void Blit(RenderTargetIdentifier source, RenderTargetIdentifier dest, Vector2 scale, Vector2 offset) { throw null; }
        public void Blit(RenderTargetIdentifier source, RenderTargetIdentifier dest, int sourceDepthSlice, int destDepthSlice) { throw null; }
        public void Blit(RenderTargetIdentifier source, RenderTargetIdentifier dest, Material mat, int pass, int destDepthSlice) { throw null; }

        public void SetRenderTarget(RenderTargetBinding binding) { throw null; }
        public void SetRenderTarget(RenderTargetIdentifier rt, int mipLevel) { throw null; }
        public void SetRenderTarget(RenderTargetIdentifier rt, int mipLevel, CubemapFace cubemapFace) { throw null; }
        public void SetRenderTarget(RenderTargetIdentifier rt, RenderBufferLoadAction loadAction, RenderBufferStoreAction storeAction) { throw null; }
        public void SetRenderTarget(RenderTargetIdentifier[] colors, RenderTargetIdentifier depth) { throw null; }
        public void SetRenderTarget(RenderTargetIdentifier color, RenderTargetIdentifier depth, int mipLevel) { throw null; }
        public void SetRenderTarget(RenderTargetIdentifier color, RenderTargetIdentifier depth, int mipLevel, CubemapFace cubemapFace) { throw null; }
        public void SetRenderTarget(RenderTargetBinding binding, int mipLevel, CubemapFace cubemapFace, int depthSlice) { throw null; }
    }
}
