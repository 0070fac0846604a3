// The draws every render-pipeline hook records, in one place: capture (camera colour -> server-size texture with
// the scale policy), depth copy (current depth -> the depth ring slot, for reprojection), composite (result over the
// live frame with opacity, reprojected when possible), engine planes (depth, normals, motion -> the ring slot's plane
// textures, Runtime/Shaders/Resources/StreamDiffusionPlanes.shader). Shader: Runtime/Shaders/Resources/StreamDiffusionBridge.shader.
// NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of Unity's documented API);
// written for Unity 2022.3 LTS and Unity 6.
using UnityEngine;
using UnityEngine.Rendering;

namespace StreamDiffusion.Bridge
{
    /// <summary>Which pipeline's buffers the plane passes read.</summary>
    internal enum PlaneSource
    {
        Builtin,
        Urp,
        Hdrp,
    }

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
        /// <summary>The pipeline whose buffers the plane passes read (normals and motion differ).</summary>
        public PlaneSource Planes;
        /// <summary>HDRP only: the motion vector buffer (CustomPassContext.cameraMotionVectorsBuffer).</summary>
        public RenderTargetIdentifier MotionArray;
        public bool HasMotionArray;
        /// <summary>HDRP only: the normal buffer (CustomPassContext.cameraNormalBuffer).</summary>
        public RenderTargetIdentifier NormalArray;
        public bool HasNormalArray;
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
        // Hidden/StreamDiffusion/Planes
        public const int DepthPlanePass = 0;
        public const int NormalsBuiltinPass = 1;
        public const int NormalsWorldPass = 2;
        public const int MotionBuiltinPass = 3;
        public const int MotionUrpPass = 4;
        public const int MotionHdrpPass = 5;
        public const int ObjectIdDrawPass = 6;
        public const int ObjectIdsPlanePass = 7;
        public const int NormalsHdrpPass = 8;

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
                RecordPlanes(cmd, frame, targets.Planes, targets.IsArray, targets);
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
                cmd.SetGlobalFloat(BridgeFrame.Ids.FlipY, GpuConventions.FlipY(false));
                RecordPlanes(cmd, frame, PlaneSource.Builtin, false, default(SrpTargets));
                frame.MarkCaptureRecorded();
            }
            if (frame.CompositeEnabled && frame.Result != null)
            {
                cmd.Blit(frame.Result, BuiltinRenderTextureType.CameraTarget, material, CompositeBlit);
            }
        }

        /// <summary>Draws the requested engine planes into their plane textures (after the capture set the mapping
        /// constants and _SDFlipY). A plane its pipeline cannot give (HDRP planes without texture arrays, HDRP
        /// object ids) keeps its texture's previous contents and is not sent (the component drops it).</summary>
        private static void RecordPlanes(CommandBuffer cmd, BridgeFrame frame, PlaneSource source, bool isArray, SrpTargets targets)
        {
            Material m = frame.PlaneMaterial;
            if (m == null || frame.PlanesRequested == EnginePlanes.None) return;
            cmd.SetGlobalFloat(BridgeFrame.Ids.FarDepth, SystemInfo.usesReversedZBuffer ? 0f : 1f);
            cmd.SetGlobalMatrix(BridgeFrame.Ids.WorldToView, frame.Camera.worldToCameraMatrix);
            if (isArray) m.EnableKeyword(BridgeFrame.SourceArrayKeyword);
            else m.DisableKeyword(BridgeFrame.SourceArrayKeyword);
            if (frame.DepthPlaneTarget != null && (source != PlaneSource.Hdrp || targets.HasDepthArray))
            {
                Draw(cmd, frame.DepthPlaneTarget, m, DepthPlanePass);
            }
            if (frame.NormalsPlaneTarget != null && source != PlaneSource.Hdrp)
            {
                Draw(cmd, frame.NormalsPlaneTarget, m, source == PlaneSource.Builtin ? NormalsBuiltinPass : NormalsWorldPass);
            }
            else if (frame.NormalsPlaneTarget != null && targets.HasNormalArray)
            {
                cmd.SetGlobalTexture(BridgeFrame.Ids.NormalArray, targets.NormalArray);
                Draw(cmd, frame.NormalsPlaneTarget, m, NormalsHdrpPass);
            }
            if (frame.MotionPlaneTarget != null && (source != PlaneSource.Hdrp || targets.HasMotionArray))
            {
                int pass = MotionUrpPass;
                if (source == PlaneSource.Builtin)
                {
                    pass = MotionBuiltinPass; // _CameraMotionVectorsTexture: a global of the Built-in pipeline
                }
                else if (source == PlaneSource.Hdrp)
                {
                    cmd.SetGlobalTexture(BridgeFrame.Ids.MotionArray, targets.MotionArray);
                    pass = MotionHdrpPass;
                }
                Draw(cmd, frame.MotionPlaneTarget, m, pass);
            }
            if (frame.ObjectIdsPlaneTarget != null && source != PlaneSource.Hdrp) RecordObjectIds(cmd, frame, m);
        }

        /// <summary>Draws every StreamDiffusionObjectId's renderers with its id into a camera-size R8 texture (only
        /// fragments not behind the camera's depth), then maps it into the plane texture with the scale policy.</summary>
        private static void RecordObjectIds(CommandBuffer cmd, BridgeFrame frame, Material m)
        {
            Camera camera = frame.Camera;
            int width = Mathf.Max(1, camera.pixelWidth), height = Mathf.Max(1, camera.pixelHeight);
            cmd.GetTemporaryRT(BridgeFrame.Ids.ObjectIds, width, height, 0, FilterMode.Point, RenderTextureFormat.R8);
            cmd.SetRenderTarget(BridgeFrame.Ids.ObjectIds);
            cmd.ClearRenderTarget(false, true, Color.clear);
            // The camera's matrices as a global of the plane shader (pass 6), in every pipeline: a Blit earlier in this
            // buffer left an orthographic projection, and CommandBuffer.SetViewProjectionMatrices is Built-in only.
            cmd.SetGlobalMatrix(BridgeFrame.Ids.ObjectIdViewProjection, GpuConventions.GpuViewProjectionIntoTexture(camera));
            foreach (StreamDiffusionObjectId tagged in StreamDiffusionObjectId.Active)
            {
                cmd.SetGlobalFloat(BridgeFrame.Ids.ObjectId, Mathf.Clamp(tagged.id, 1, 255) / 255f);
                foreach (Renderer r in tagged.Renderers)
                {
                    if (r == null || !r.enabled) continue;
                    int submeshes = Mathf.Max(1, r.sharedMaterials.Length);
                    for (int s = 0; s < submeshes; s++) cmd.DrawRenderer(r, m, s, ObjectIdDrawPass);
                }
            }
            cmd.SetGlobalTexture(BridgeFrame.Ids.ObjectIds, BridgeFrame.Ids.ObjectIds);
            Draw(cmd, frame.ObjectIdsPlaneTarget, m, ObjectIdsPlanePass);
            cmd.ReleaseTemporaryRT(BridgeFrame.Ids.ObjectIds);
        }

        private static void Draw(CommandBuffer cmd, RenderTexture target, Material material, int pass)
        {
            cmd.SetRenderTarget(target);
            cmd.DrawProcedural(Matrix4x4.identity, material, pass, MeshTopology.Triangles, 3, 1);
        }
    }
}
