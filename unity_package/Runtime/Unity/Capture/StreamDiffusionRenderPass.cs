// Universal Render Pipeline: the capture / depth copy / composite pass. Targets URP 14 (Unity 2022.3 LTS:
// ScriptableRenderPass.Execute) and URP 17 (Unity 6: RecordRenderGraph with an unsafe pass; Execute is the
// Compatibility Mode path there). The camera keeps rendering to its own target at its own resolution. Enqueued by
// PipelineHooks (RenderPipelineManager.beginCameraRendering) or by StreamDiffusionRendererFeature
// (StreamDiffusionRendererFeature.cs).
// NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of URP's documented API).
#if SDBRIDGE_URP
using UnityEngine;
using UnityEngine.Rendering;
using UnityEngine.Rendering.Universal;
#if UNITY_6000_0_OR_NEWER
using UnityEngine.Rendering.RenderGraphModule;
#endif

namespace StreamDiffusion.Bridge
{
    /// <summary>The capture / depth copy / composite pass for URP.</summary>
    internal sealed class StreamDiffusionRenderPass : ScriptableRenderPass
    {
        private const string Name = "StreamDiffusion Bridge";
        private static bool _warnedBackBuffer;

        public StreamDiffusionRenderPass(RenderPassEvent passEvent)
        {
            renderPassEvent = passEvent;
#if UNITY_6000_0_OR_NEWER
            // URP 17 (ScriptableRenderPass.requiresIntermediateTexture): "forces rendering of all passes in the URP
            // frame via an intermediate texture ... for passes that ... require sampling the active color target".
            // Without it URP 17 may render this camera straight into the back buffer, which the capture cannot read.
            requiresIntermediateTexture = true;
#endif
        }

        /// <summary>Enqueues the pass for <paramref name="camera"/> when a StreamDiffusionCamera has work for it this
        /// frame (at most once per camera and frame, whichever way in comes first).</summary>
        public void TryEnqueue(ScriptableRenderer renderer, Camera camera)
        {
            BridgeFrame frame;
            if (renderer == null || !BridgeFrame.TryGet(camera, out frame) || !frame.HasWork) return;
            if (frame.EnqueuedFrame == Time.frameCount) return;
            frame.EnqueuedFrame = Time.frameCount;
            ScriptableRenderPassInput input = ScriptableRenderPassInput.None;
            if (frame.NeedsDepth) input |= ScriptableRenderPassInput.Depth;
            // Engine planes (EnginePlanes.cs): URP renders _CameraNormalsTexture (world space) and _MotionVectorTexture
            // for a pass that asks for them ("setting this input flag forces the URP renderer to inject the motion
            // vector render pass", URP manual, Sample motion vectors in a shader).
            if (frame.NeedsNormals) input |= ScriptableRenderPassInput.Normal;
            if (frame.NeedsMotion) input |= ScriptableRenderPassInput.Motion;
            // URP 14 (UniversalRenderer.Setup): a pass that declares Color input makes the camera render into an
            // intermediate colour texture ("createColorTexture |= renderPassInputs.requiresColorTexture"); it also
            // schedules URP's opaque-texture copy, so it is declared only after a frame went to the back buffer.
            if (frame.UrpNeedsColorInput) input |= ScriptableRenderPassInput.Color;
            ConfigureInput(input);
            renderer.EnqueuePass(this);
        }

#if !UNITY_6000_3_OR_NEWER || (URP_COMPATIBILITY_MODE && !UNITY_6000_4_OR_NEWER)
        // Execute is abstract in URP 14 and [Obsolete] in URP 17.0-17.2 (Unity 6.0-6.2), the Compatibility Mode path.
        // From Unity 6.3 (URP 17.3) Compatibility Mode is stripped unless the URP_COMPATIBILITY_MODE scripting define
        // is set: Execute and cameraColorTargetHandle are kept only as obsolete members that "will do nothing", so
        // the override is compiled only where it can run. The define only converts 6.3 projects and is announced not
        // to work from Unity 6.4, so it is not honoured there (the override may have no base member left to override).
#pragma warning disable 618, 672
        /// <inheritdoc />
        public override void Execute(ScriptableRenderContext context, ref RenderingData renderingData)
        {
            BridgeFrame frame;
            if (!BridgeFrame.TryGet(renderingData.cameraData.camera, out frame) || !frame.HasWork) return;
            ScriptableRenderer renderer = renderingData.cameraData.renderer;
            RTHandle color = renderer.cameraColorTargetHandle;
            var targets = new SrpTargets
            {
                Color = color,
                ColorIsBackBuffer = color.nameID == (RenderTargetIdentifier)BuiltinRenderTextureType.CameraTarget,
                UvScale = Vector4.one,
                Planes = PlaneSource.Urp,
            };
            CommandBuffer cmd = CommandBufferPool.Get(Name);
            frame.PrepareForRender();
            if (!BridgeDraws.RecordProcedural(cmd, frame, targets))
            {
                frame.UrpNeedsColorInput = true; // from the next frame the camera renders into a texture (see TryEnqueue)
                WarnBackBuffer();
            }
            // URP 14 binds a pass's attachments only when they differ from the ones it last bound
            // (ScriptableRenderer.SetRenderPassAttachments), so leave the camera's colour and depth bound, not the
            // capture or depth-ring texture this pass drew into.
            cmd.SetRenderTarget(color, renderer.cameraDepthTargetHandle);
            context.ExecuteCommandBuffer(cmd);
            CommandBufferPool.Release(cmd);
        }
#pragma warning restore 618, 672
#endif

#if UNITY_6000_0_OR_NEWER
        private sealed class PassData
        {
            internal BridgeFrame Frame;
            internal TextureHandle Color;
            internal TextureHandle Depth;
            internal bool HasDepth;
            internal TextureHandle Normals;
            internal bool HasNormals;
            internal TextureHandle Motion;
            internal bool HasMotion;
        }

        /// <inheritdoc />
        public override void RecordRenderGraph(RenderGraph renderGraph, ContextContainer frameData)
        {
            UniversalCameraData cameraData = frameData.Get<UniversalCameraData>();
            BridgeFrame frame;
            if (!BridgeFrame.TryGet(cameraData.camera, out frame) || !frame.HasWork) return;
            UniversalResourceData resources = frameData.Get<UniversalResourceData>();
            if (resources.isActiveTargetBackBuffer)
            {
                // Not expected: requiresIntermediateTexture (constructor) asks URP 17 for an intermediate texture.
                WarnOnce("StreamDiffusion: URP 17 gave the bridge pass the back buffer although the pass sets " +
                         "requiresIntermediateTexture, so no frame is captured. Please report the URP version.");
                return;
            }
            // An unsafe pass (URP 17 manual, "Use the CommandBuffer interface in a render graph"): it sets its own
            // render targets, including the capture and depth-ring textures that the graph does not manage.
            using (IUnsafeRenderGraphBuilder builder = renderGraph.AddUnsafePass<PassData>(Name, out PassData data))
            {
                data.Frame = frame;
                data.Color = resources.activeColorTexture;
                builder.UseTexture(data.Color, AccessFlags.ReadWrite);
                data.HasDepth = frame.NeedsDepth && resources.cameraDepthTexture.IsValid();
                if (data.HasDepth)
                {
                    data.Depth = resources.cameraDepthTexture;
                    builder.UseTexture(data.Depth, AccessFlags.Read);
                }
                // Engine planes: URP 17's normals and motion vector textures, declared as reads of this pass.
                data.HasNormals = frame.NeedsNormals && resources.cameraNormalsTexture.IsValid();
                if (data.HasNormals)
                {
                    data.Normals = resources.cameraNormalsTexture;
                    builder.UseTexture(data.Normals, AccessFlags.Read);
                }
                data.HasMotion = frame.NeedsMotion && resources.motionVectorColor.IsValid();
                if (data.HasMotion)
                {
                    data.Motion = resources.motionVectorColor;
                    builder.UseTexture(data.Motion, AccessFlags.Read);
                }
                builder.AllowPassCulling(false);
                builder.AllowGlobalStateModification(true);
                builder.SetRenderFunc((PassData d, UnsafeGraphContext context) => ExecuteGraph(d, context));
            }
        }

        private static void ExecuteGraph(PassData data, UnsafeGraphContext context)
        {
            CommandBuffer cmd = CommandBufferHelpers.GetNativeCommandBuffer(context.cmd);
            if (data.HasDepth) cmd.SetGlobalTexture(BridgeFrame.Ids.CameraDepth, data.Depth);
            if (data.HasNormals) cmd.SetGlobalTexture(BridgeFrame.Ids.UrpNormals, data.Normals);
            if (data.HasMotion) cmd.SetGlobalTexture(BridgeFrame.Ids.UrpMotion, data.Motion);
            var targets = new SrpTargets { Color = data.Color, UvScale = Vector4.one, Planes = PlaneSource.Urp };
            data.Frame.PrepareForRender();
            BridgeDraws.RecordProcedural(cmd, data.Frame, targets);
        }
#endif

        private static void WarnBackBuffer()
        {
            WarnOnce("StreamDiffusion: URP rendered this camera straight into the back buffer, which cannot " +
                             "be read, so that frame was not captured. From the next frame the bridge pass declares a " +
                             "colour input (ScriptableRenderPassInput.Color), which makes URP 14 render the camera " +
                             "into a texture at the cost of its opaque-texture copy; enabling HDR or post-processing " +
                             "on the camera avoids that copy.");
        }

        private static void WarnOnce(string message)
        {
            if (_warnedBackBuffer) return;
            _warnedBackBuffer = true;
            Debug.LogWarning(message);
        }
    }
}
#endif
