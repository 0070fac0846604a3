// The draws every render-pipeline hook records, in one place: capture (camera colour -> server-size texture with
// the scale policy), depth copy (current depth -> the depth ring slot, for reprojection), composite (result over the
// live frame with opacity, reprojected when possible). Shader: Runtime/Shaders/Resources/StreamDiffusionBridge.shader.
// NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of Unity's documented API);
// written for Unity 2022.3 LTS and Unity 6.
using UnityEngine;
using UnityEngine.Rendering;

namespace StreamDiffusion.Bridge
{
    /// <summary>Where an SRP hook finds the camera's buffers.</summary>
    internal struct SrpTargets
    {
        /// <summary>The camera colour buffer: sampled by the capture, drawn into by the composite.</summary>
        public RenderTargetIdentifier Color;
        /// <summary>HDRP allocates camera buffers as texture arrays (XR-ready); slice 0 is used.</summary>
        public bool IsArray;
        /// <summary>URP may render straight into the back buffer, which cannot be sampled.</summary>
        public bool ColorIsBackBuffer;
        /// <summary>RTHandle scale (HDRP's buffers can be larger than the viewport); (1, 1) otherwise.</summary>
        public Vector4 UvScale;
        /// <summary>HDRP only: the depth buffer to sample (Built-in and URP use the global _CameraDepthTexture).</summary>
        public RenderTargetIdentifier DepthArray;
        public bool HasDepthArray;
        /// <summary>HDRP only: the camera's viewport inside its (possibly larger) buffers.</summary>
        public Rect Viewport;
        public bool HasViewport;
    }

    /// <summary>Records the bridge's draws into a CommandBuffer.</summary>
    internal static class BridgeDraws
    {
        public const int CaptureProcedural = 0;
        public const int DepthProcedural = 1;
        public const int CompositeProcedural = 2;
        public const int CaptureBlit = 3;
        public const int DepthBlit = 4;
        public const int CompositeBlit = 5;

        /// <summary>URP / HDRP: full-screen triangles drawn with DrawProcedural. Call after frame.PrepareForRender().
        /// Returns false (and draws nothing) when the colour buffer cannot be sampled (the back buffer).</summary>
        public static bool RecordProcedural(CommandBuffer cmd, BridgeFrame frame, SrpTargets targets)
        {
            if (targets.ColorIsBackBuffer && frame.CaptureRequested) return false;
            Material material = frame.Material;
            if (targets.IsArray) material.EnableKeyword(BridgeFrame.SourceArrayKeyword);
            else material.DisableKeyword(BridgeFrame.SourceArrayKeyword);
            frame.SetConstants(cmd);
            cmd.SetGlobalVector(BridgeFrame.Ids.SourceUvScale, targets.UvScale);
            if (targets.HasDepthArray) cmd.SetGlobalTexture(BridgeFrame.Ids.CurrentDepthArray, targets.DepthArray);

            if (frame.CaptureRequested && frame.CaptureTarget != null)
            {
                cmd.SetGlobalTexture(targets.IsArray ? BridgeFrame.Ids.SourceArray : BridgeFrame.Ids.Source, targets.Color);
                cmd.SetGlobalFloat(BridgeFrame.Ids.FlipY, GpuConventions.FlipY(false));
                cmd.SetRenderTarget(frame.CaptureTarget);
                cmd.DrawProcedural(Matrix4x4.identity, material, CaptureProcedural, MeshTopology.Triangles, 3, 1);
                if (frame.DepthTarget != null)
                {
                    cmd.SetRenderTarget(frame.DepthTarget);
                    cmd.DrawProcedural(Matrix4x4.identity, material, DepthProcedural, MeshTopology.Triangles, 3, 1);
                }
                frame.MarkCaptureRecorded();
            }
            if (frame.CompositeEnabled && frame.Result != null)
            {
                cmd.SetGlobalFloat(BridgeFrame.Ids.FlipY, GpuConventions.FlipY(targets.ColorIsBackBuffer));
                cmd.SetRenderTarget(targets.Color, 0, CubemapFace.Unknown, 0);
                if (targets.HasViewport) cmd.SetViewport(targets.Viewport);
                cmd.DrawProcedural(Matrix4x4.identity, material, CompositeProcedural, MeshTopology.Triangles, 3, 1);
            }
            return true;
        }

        /// <summary>Built-in render pipeline: CommandBuffer.Blit with the Blit passes (Unity binds the source as
        /// _MainTex and orients the quad for the destination). Call after frame.PrepareForRender().</summary>
        public static void RecordBuiltin(CommandBuffer cmd, BridgeFrame frame)
        {
            Material material = frame.Material;
            material.DisableKeyword(BridgeFrame.SourceArrayKeyword);
            frame.SetConstants(cmd);
            cmd.SetGlobalVector(BridgeFrame.Ids.SourceUvScale, Vector4.one);
            if (frame.CaptureRequested && frame.CaptureTarget != null)
            {
                cmd.Blit(BuiltinRenderTextureType.CurrentActive, frame.CaptureTarget, material, CaptureBlit);
                if (frame.DepthTarget != null)
                {
                    cmd.Blit(BuiltinRenderTextureType.Depth, frame.DepthTarget, material, DepthBlit);
                }
                frame.MarkCaptureRecorded();
            }
            if (frame.CompositeEnabled && frame.Result != null)
            {
                cmd.Blit(frame.Result, BuiltinRenderTextureType.CameraTarget, material, CompositeBlit);
            }
        }
    }
}
