// High Definition Render Pipeline: a custom pass at the AfterPostProcess injection point that captures the camera's
// colour, copies its depth for reprojection and draws the composite. StreamDiffusionCamera creates one hidden global
// Custom Pass Volume for all its instances (HDRP 14, Unity 2022.3 LTS, and HDRP 17, Unity 6: CustomPassVolume,
// CustomPass.Execute(CustomPassContext)); the pass does work only for cameras that have a StreamDiffusionCamera.
// HDRP allocates camera buffers as texture arrays on XR-capable platforms: slice 0 is used (no XR support), and the
// buffers can be larger than the viewport (RTHandle scale), which the shader applies.
// NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of HDRP's documented API).
#if SDBRIDGE_HDRP
using UnityEngine;
using UnityEngine.Rendering;
using UnityEngine.Rendering.HighDefinition;

namespace StreamDiffusion.Bridge
{
    /// <summary>The capture / depth copy / composite custom pass for HDRP.</summary>
    [System.Serializable]
    internal sealed class StreamDiffusionCustomPass : CustomPass
    {
        /// <inheritdoc />
        protected override void Execute(CustomPassContext ctx)
        {
            BridgeFrame frame;
            if (!BridgeFrame.TryGet(ctx.hdCamera.camera, out frame) || !frame.HasWork) return;
            RTHandle color = ctx.cameraColorBuffer;
            bool isArray = color.rt != null && color.rt.dimension == TextureDimension.Tex2DArray;
            var targets = new SrpTargets
            {
                Color = color,
                IsArray = isArray,
                UvScale = color.rtHandleProperties.rtHandleScale,
                DepthArray = ctx.cameraDepthBuffer,
                HasDepthArray = isArray && frame.NeedsDepth,
                Viewport = new Rect(0f, 0f, ctx.hdCamera.actualWidth, ctx.hdCamera.actualHeight),
                HasViewport = true,
                Planes = PlaneSource.Hdrp,
                // Motion plane: HDRP's motion vector buffer (rendered when the camera's Frame Settings enable motion
                // vectors; otherwise it holds zeros) and its normal buffer (octahedron-encoded world normals).
                MotionArray = ctx.cameraMotionVectorsBuffer,
                HasMotionArray = isArray && frame.NeedsMotion,
                NormalArray = ctx.cameraNormalBuffer,
                HasNormalArray = isArray && frame.NeedsNormals,
            };
            if (!isArray && frame.NeedsDepth)
            {
                // HDRP's global _CameraDepthTexture is its depth pyramid (a mip atlas), and rebinding it would change
                // what HDRP's later passes read: without texture arrays this pass does not reproject.
                frame.DepthTarget = null;
                frame.ResultDepth = null;
                WarnNoDepth();
            }
            frame.PrepareForRender();
            BridgeDraws.RecordProcedural(ctx.cmd, frame, targets);
        }

        private static bool _warnedNoDepth;

        private static void WarnNoDepth()
        {
            if (_warnedNoDepth) return;
            _warnedNoDepth = true;
            Debug.LogWarning("StreamDiffusion: HDRP's camera buffers are not texture arrays on this platform, so the " +
                             "bridge cannot read the camera depth without disturbing HDRP's depth pyramid; results are " +
                             "shown without reprojection.");
        }
    }

    /// <summary>The hidden global Custom Pass Volume shared by every StreamDiffusionCamera (reference counted).</summary>
    internal static class HdrpCustomPassHost
    {
        private static GameObject _host;
        private static int _users;

        public static void Acquire()
        {
            _users++;
            if (_host != null) return;
            _host = new GameObject("StreamDiffusion Bridge Custom Pass") { hideFlags = HideFlags.HideAndDontSave };
            _host.SetActive(false); // configure the volume before its OnEnable registers it with HDRP
            CustomPassVolume volume = _host.AddComponent<CustomPassVolume>();
            volume.isGlobal = true;
            volume.injectionPoint = CustomPassInjectionPoint.AfterPostProcess;
            volume.customPasses.Add(new StreamDiffusionCustomPass { name = "StreamDiffusion Bridge" });
            _host.SetActive(true);
        }

        public static void Release()
        {
            if (_users > 0) _users--;
            if (_users > 0 || _host == null) return;
            Object.Destroy(_host);
            _host = null;
        }
    }
}
#endif
