// Installs the capture / composite hook that matches the active render pipeline:
//   Built-in: a camera CommandBuffer at CameraEvent.AfterEverything (BuiltinCameraHook)
//   URP 14 / 17: StreamDiffusionRenderPass, enqueued through RenderPipelineManager.beginCameraRendering
//                (or by StreamDiffusionRendererFeature when the user added it and turned auto-inject off)
//   HDRP 14 / 17: a hidden global Custom Pass Volume at AfterPostProcess (HdrpCustomPassHost)
// NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of the documented APIs,
// once per define combination: none, SDBRIDGE_URP, SDBRIDGE_HDRP).
using System;
using UnityEngine;
using UnityEngine.Rendering;
#if SDBRIDGE_URP
using UnityEngine.Rendering.Universal;
#endif
#if SDBRIDGE_HDRP
using UnityEngine.Rendering.HighDefinition;
#endif

namespace StreamDiffusion.Bridge
{
    /// <summary>The active pipeline's hook for one camera.</summary>
    internal sealed class PipelineHooks : IDisposable
    {
        private BuiltinCameraHook _builtin;
#if SDBRIDGE_URP
        private readonly Camera _camera;
        private StreamDiffusionRenderPass _urpPass;
#endif
#if SDBRIDGE_HDRP
        private bool _hdrp;
#endif

        private PipelineHooks(Camera camera)
        {
#if SDBRIDGE_URP
            _camera = camera;
#endif
        }

        /// <summary>Which pipeline the hook serves ("Built-in", "URP", "HDRP").</summary>
        public string Pipeline { get; private set; }

        /// <summary>Installs the hook for the active pipeline; null (with <paramref name="error"/>) when the
        /// pipeline is not supported.</summary>
        public static PipelineHooks Install(Camera camera, bool urpAutoInject, out string error)
        {
            error = null;
            var hooks = new PipelineHooks(camera);
            RenderPipelineAsset asset = GraphicsSettings.currentRenderPipeline;
            if (asset == null)
            {
                hooks._builtin = new BuiltinCameraHook(camera);
                hooks.Pipeline = "Built-in";
                return hooks;
            }
#if SDBRIDGE_URP
            if (asset is UniversalRenderPipelineAsset)
            {
                hooks.Pipeline = "URP";
                if (urpAutoInject)
                {
                    hooks._urpPass = new StreamDiffusionRenderPass(RenderPassEvent.AfterRenderingPostProcessing);
                    RenderPipelineManager.beginCameraRendering += hooks.OnBeginCameraRendering;
                }
                return hooks;
            }
#endif
#if SDBRIDGE_HDRP
            if (asset is HDRenderPipelineAsset)
            {
                HdrpCustomPassHost.Acquire();
                hooks._hdrp = true;
                hooks.Pipeline = "HDRP";
                return hooks;
            }
#endif
            error = "the render pipeline asset " + asset.GetType().Name + " is not supported: the bridge draws with the " +
                    "Built-in pipeline, URP 14+ (com.unity.render-pipelines.universal) or HDRP 14+ " +
                    "(com.unity.render-pipelines.high-definition)";
            return null;
        }

        /// <summary>Built-in only: records this frame's draws (call from the camera's OnPreRender).</summary>
        public void OnPreRender(BridgeFrame frame)
        {
            if (_builtin != null) _builtin.Record(frame);
        }

        /// <summary>Built-in only: makes the camera render _CameraDepthTexture (reprojection, depth plane),
        /// _CameraDepthNormalsTexture (normals plane) and _CameraMotionVectorsTexture (motion plane) while they are
        /// needed (URP asks per pass with ConfigureInput; HDRP renders depth always and motion vectors when its frame
        /// settings enable them).</summary>
        public void RequireModes(bool depth, bool normals, bool motion)
        {
            if (_builtin == null) return;
            DepthTextureMode modes = DepthTextureMode.None;
            if (depth) modes |= DepthTextureMode.Depth;
            if (normals) modes |= DepthTextureMode.DepthNormals;
            if (motion) modes |= DepthTextureMode.MotionVectors | DepthTextureMode.Depth;
            _builtin.RequireModes(modes);
        }

#if SDBRIDGE_URP
        private void OnBeginCameraRendering(ScriptableRenderContext context, Camera camera)
        {
            if (camera != _camera) return;
            UniversalAdditionalCameraData data = camera.GetUniversalAdditionalCameraData();
            if (data != null) _urpPass.TryEnqueue(data.scriptableRenderer, camera);
        }
#endif

        public void Dispose()
        {
            if (_builtin != null) _builtin.Dispose();
            _builtin = null;
#if SDBRIDGE_URP
            if (_urpPass != null) RenderPipelineManager.beginCameraRendering -= OnBeginCameraRendering;
            _urpPass = null;
#endif
#if SDBRIDGE_HDRP
            if (_hdrp) HdrpCustomPassHost.Release();
            _hdrp = false;
#endif
        }
    }
}
