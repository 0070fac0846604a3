// Universal Render Pipeline: StreamDiffusionRendererFeature, the renderer feature that adds the bridge pass
// (StreamDiffusionRenderPass.cs) to a Universal Renderer. A ScriptableRendererFeature is a ScriptableObject stored as
// a sub-asset of the Universal Renderer Data asset, so it lives alone in a file named after it: Unity resolves a
// ScriptableObject's script by file name (Unity 2022.3 / 6 Manual, "Naming scripts"), and a feature in a file of
// another name can come back as a missing script when the renderer asset is reloaded.
// Two ways in, the same pass: StreamDiffusionCamera enqueues it by itself through
// RenderPipelineManager.beginCameraRendering (URP's "inject a render pass via scripting"; no setup), or add
// "StreamDiffusion Bridge" to the Universal Renderer asset's Renderer Features (choose the injection point there)
// and turn off the component's urpAutoInject.
// NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of URP's documented API).
#if SDBRIDGE_URP
using UnityEngine;
using UnityEngine.Rendering.Universal;

namespace StreamDiffusion.Bridge
{
    /// <summary>Renderer feature that runs the StreamDiffusion Bridge pass for cameras with a StreamDiffusionCamera.</summary>
    public sealed class StreamDiffusionRendererFeature : ScriptableRendererFeature
    {
        [Tooltip("When the capture and the composite run. After post-processing: the server sees the final image " +
                 "and the composite is not tone-mapped again.")]
        public RenderPassEvent passEvent = RenderPassEvent.AfterRenderingPostProcessing;

        private StreamDiffusionRenderPass _pass;

        /// <inheritdoc />
        public override void Create()
        {
            _pass = new StreamDiffusionRenderPass(passEvent);
        }

        /// <inheritdoc />
        public override void AddRenderPasses(ScriptableRenderer renderer, ref RenderingData renderingData)
        {
            _pass.TryEnqueue(renderer, renderingData.cameraData.camera);
        }
    }
}
#endif
