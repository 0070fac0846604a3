// Stubs of the Universal Render Pipeline (com.unity.render-pipelines.universal 14 for Unity 2022.3 LTS, 17 for
// Unity 6) members the URP hook uses. Written from URP's documented API; bodies throw.
// ScriptableRenderPass.Execute is abstract in URP 14 and virtual + [Obsolete] (Compatibility Mode) in URP 17: the
// stub declares it virtual, which an override satisfies in both. RecordRenderGraph, UniversalCameraData and
// UniversalResourceData are URP 17 only (the package uses them under UNITY_6000_0_OR_NEWER).
using System;
using UnityEngine.Rendering.RenderGraphModule;

namespace UnityEngine.Rendering.Universal
{
    public enum RenderPassEvent
    {
        BeforeRendering = 0,
        AfterRenderingTransparents = 500,
        BeforeRenderingPostProcessing = 550,
        AfterRenderingPostProcessing = 600,
        AfterRendering = 1000,
    }

    [Flags]
    public enum ScriptableRenderPassInput
    {
        None = 0,
        Depth = 1,
        Normal = 2,
        Color = 4,
        Motion = 8,
    }

    public partial struct CameraData
    {
        public Camera camera;
        public ScriptableRenderer renderer;
    }

    public partial struct RenderingData
    {
        public CameraData cameraData;
    }

    public abstract partial class ScriptableRenderer
    {
        public RTHandle cameraColorTargetHandle { get { throw null; } }
        // URP 14+: valid only inside a pass's execution ("in the scope of ScriptableRenderPass").
        public RTHandle cameraDepthTargetHandle { get { throw null; } }
        public void EnqueuePass(ScriptableRenderPass pass) { throw null; }
    }

    public abstract partial class ScriptableRenderPass
    {
        public RenderPassEvent renderPassEvent { get { throw null; } set { } }
        // URP 17 (Unity 6) only; the package sets it under UNITY_6000_0_OR_NEWER.
        public bool requiresIntermediateTexture { get { throw null; } set { } }
        public void ConfigureInput(ScriptableRenderPassInput passInput) { throw null; }
        public virtual void Execute(ScriptableRenderContext context, ref RenderingData renderingData) { throw null; }
        public virtual void RecordRenderGraph(RenderGraph renderGraph, ContextContainer frameData) { throw null; }
    }

    public abstract partial class ScriptableRendererFeature : ScriptableObject, IDisposable
    {
        public abstract void Create();
        public abstract void AddRenderPasses(ScriptableRenderer renderer, ref RenderingData renderingData);
        public void Dispose() { throw null; }
    }

    public partial class UniversalRenderPipelineAsset : RenderPipelineAsset
    {
    }

    public partial class UniversalAdditionalCameraData : MonoBehaviour
    {
        public ScriptableRenderer scriptableRenderer { get { throw null; } }
    }

    public static partial class CameraExtensions
    {
        public static UniversalAdditionalCameraData GetUniversalAdditionalCameraData(this Camera camera) { throw null; }
    }

    public partial class UniversalCameraData : ContextItem
    {
        public Camera camera;
    }

    public partial class UniversalResourceData : ContextItem
    {
        public TextureHandle activeColorTexture { get { throw null; } }
        public TextureHandle cameraDepthTexture { get { throw null; } }
        public bool isActiveTargetBackBuffer { get { throw null; } }
        public TextureHandle cameraNormalsTexture { get { throw null; } }
        public TextureHandle motionVectorColor { get { throw null; } }
    }
}
