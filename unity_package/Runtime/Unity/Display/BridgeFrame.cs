// What the render-pipeline hooks (Built-in command buffer, URP renderer feature, HDRP custom pass) need from a
// StreamDiffusionCamera for the frame being rendered: whether to capture and into which textures, and how to
// composite the stylized result over the live frame. The component fills it on the main thread (LateUpdate); a hook
// calls PrepareForRender when the camera renders, then BridgeDraws records the draws.
// NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of Unity's documented API).
using System.Collections.Generic;
using StreamDiffusion.Bridge.Core.Capture;
using StreamDiffusion.Bridge.Core.Reprojection;
using UnityEngine;
using UnityEngine.Rendering;

namespace StreamDiffusion.Bridge
{
    /// <summary>Per-camera state shared between the component and the pipeline hooks (main thread only).</summary>
    internal sealed class BridgeFrame
    {
        public const string ReprojectKeyword = "SDBRIDGE_REPROJECT";
        public const string SourceArrayKeyword = "SDBRIDGE_SOURCE_ARRAY";

        private static readonly Dictionary<Camera, BridgeFrame> ByCamera = new Dictionary<Camera, BridgeFrame>();

        public BridgeFrame(Camera camera, Material material)
        {
            Camera = camera;
            Material = material;
        }

        public Camera Camera { get; private set; }
        public Material Material { get; private set; }

        // ---------------------------------------------------------------- capture (set by the component)
        /// <summary>Capture this frame into <see cref="CaptureTarget"/> (and the depth into <see cref="DepthTarget"/>).</summary>
        public bool CaptureRequested;
        public RenderTexture CaptureTarget;
        /// <summary>Depth ring slot for this capture; null when reprojection is off.</summary>
        public RenderTexture DepthTarget;
        public CaptureMapping Mapping;

        /// <summary>The GPU planes to draw with this capture (EnginePlanes.cs) and their textures (ring slot).</summary>
        public EnginePlanes PlanesRequested;
        public RenderTexture DepthPlaneTarget;
        public RenderTexture NormalsPlaneTarget;
        public RenderTexture MotionPlaneTarget;
        public RenderTexture ObjectIdsPlaneTarget;
        /// <summary>Hidden/StreamDiffusion/Planes (null: planes are not drawn).</summary>
        public Material PlaneMaterial;

        /// <summary>Set by a hook when it recorded the capture; the component reads it back next frame.</summary>
        public bool CaptureRecorded;
        /// <summary>The GPU view-projection the recorded capture was rendered with.</summary>
        public Matrix4x4 CaptureViewProjection;

        // ---------------------------------------------------------------- composite (set by the component)
        /// <summary>Draw the result over the live frame (false: the live frame shows alone).</summary>
        public bool CompositeEnabled;
        public Texture Result;
        public float Opacity = 1f;
        /// <summary>Mapping the result was captured with (its TargetFromSource is the display mapping).</summary>
        public CaptureMapping ResultMapping;
        /// <summary>View-projection of the frame the result depicts, and its depth; null / null: no reprojection.</summary>
        public Matrix4 ResultViewProjection;
        public RenderTexture ResultDepth;
        public double DepthTolerance = Reprojector.DefaultTolerance;

        /// <summary>Time.frameCount when a URP pass was last enqueued for this camera (one pass per frame).</summary>
        public int EnqueuedFrame = -1;
        /// <summary>URP 14 / Compatibility Mode: the camera rendered into the back buffer, so the pass declares a
        /// Color input from now on (URP then renders the camera into an intermediate texture).</summary>
        public bool UrpNeedsColorInput;

        /// <summary>True when this frame reads the current depth (depth copy for a capture, or reprojection).</summary>
        public bool NeedsDepth
        {
            get
            {
                return (CaptureRequested && (DepthTarget != null || DepthPlaneTarget != null || ObjectIdsPlaneTarget != null)) ||
                       (CompositeEnabled && ResultDepth != null && ResultViewProjection != null);
            }
        }

        /// <summary>True when this frame's capture draws the normals plane.</summary>
        public bool NeedsNormals { get { return CaptureRequested && NormalsPlaneTarget != null && PlaneMaterial != null; } }

        /// <summary>True when this frame's capture draws the motion plane.</summary>
        public bool NeedsMotion { get { return CaptureRequested && MotionPlaneTarget != null && PlaneMaterial != null; } }

        /// <summary>Whether the composite this frame reprojects (decided in PrepareForRender).</summary>
        public bool Reprojecting { get; private set; }
        private Matrix4 _reprojectedFrom;
        private Matrix4x4 _reprojectedTo;
        private double _reprojectedTolerance;
        private Matrix4x4 _reproject;
        private Vector4 _invSrcRow3;
        private Vector4 _invDstRow3;
        private float _orthographic;

        public static void Register(BridgeFrame frame)
        {
            ByCamera[frame.Camera] = frame;
        }

        public static void Unregister(BridgeFrame frame)
        {
            BridgeFrame current;
            if (ByCamera.TryGetValue(frame.Camera, out current) && current == frame) ByCamera.Remove(frame.Camera);
        }

        /// <summary>The frame state of <paramref name="camera"/>, if a StreamDiffusionCamera drives it.</summary>
        public static bool TryGet(Camera camera, out BridgeFrame frame)
        {
            frame = null;
            return camera != null && ByCamera.TryGetValue(camera, out frame) && frame != null;
        }

        /// <summary>True when this frame has anything to draw.</summary>
        public bool HasWork { get { return CaptureRequested || CompositeEnabled; } }

        /// <summary>Called by a hook when the camera renders: takes the camera's matrices now (after every script
        /// moved it) and sets the reprojection constants and keywords. The core's double-precision Reprojector is
        /// rebuilt only when the camera or the result's camera changed (a still camera allocates nothing).</summary>
        public void PrepareForRender()
        {
            Matrix4x4 viewProjection = GpuConventions.GpuViewProjection(Camera);
            if (CaptureRequested) CaptureViewProjection = viewProjection;
            Reprojecting = CompositeEnabled && ResultViewProjection != null && ResultDepth != null;
            if (Reprojecting)
            {
                if (!ReferenceEquals(_reprojectedFrom, ResultViewProjection) || !_reprojectedTo.Equals(viewProjection) ||
                    _reprojectedTolerance != DepthTolerance)
                {
                    var r = new Reprojector(ResultViewProjection, GpuConventions.ToCore(viewProjection), DepthTolerance);
                    _reproject = GpuConventions.ToUnity(r.SourceFromDestination);
                    _invSrcRow3 = Row(r.InverseSourceRow3);
                    _invDstRow3 = Row(r.InverseDestinationRow3);
                    _orthographic = r.SourceIsOrthographic ? 1f : 0f;
                    _reprojectedFrom = ResultViewProjection;
                    _reprojectedTo = viewProjection;
                    _reprojectedTolerance = DepthTolerance;
                }
                Material.EnableKeyword(ReprojectKeyword);
            }
            else
            {
                Material.DisableKeyword(ReprojectKeyword);
            }
        }

        /// <summary>Records the constants every pass reads (cmd.SetGlobal*, so they apply in command order).</summary>
        public void SetConstants(CommandBuffer cmd)
        {
            cmd.SetGlobalVector(Ids.SourceFromTarget, ScaleBias(Mapping.SourceFromTarget));
            cmd.SetGlobalVector(Ids.TargetRect, UvBounds(Mapping));
            cmd.SetGlobalVector(Ids.Display, ScaleBias(ResultMapping.TargetFromSource));
            cmd.SetGlobalVector(Ids.ResultRect, UvBounds(ResultMapping));
            cmd.SetGlobalFloat(Ids.Opacity, Mathf.Clamp01(Opacity));
            cmd.SetGlobalVector(Ids.DepthToNdc, GpuConventions.DepthToNdc());
            if (Result != null) cmd.SetGlobalTexture(Ids.Result, Result);
            if (!Reprojecting) return;
            cmd.SetGlobalMatrix(Ids.Reproject, _reproject);
            cmd.SetGlobalVector(Ids.InvSrcRow3, _invSrcRow3);
            cmd.SetGlobalVector(Ids.InvDstRow3, _invDstRow3);
            cmd.SetGlobalFloat(Ids.DepthTolerance, (float)_reprojectedTolerance);
            cmd.SetGlobalFloat(Ids.Orthographic, _orthographic);
            cmd.SetGlobalTexture(Ids.SourceDepth, ResultDepth);
        }

        /// <summary>Called by a hook after it recorded the capture draws.</summary>
        public void MarkCaptureRecorded()
        {
            CaptureRecorded = true;
            CaptureRequested = false; // one capture per request, even if the camera renders twice
        }

        private static Vector4 ScaleBias(UvScaleBias m)
        {
            return new Vector4((float)m.ScaleU, (float)m.ScaleV, (float)m.BiasU, (float)m.BiasV);
        }

        private static Vector4 UvBounds(CaptureMapping m)
        {
            if (m.TargetWidth <= 0) return new Vector4(0f, 0f, 1f, 1f);
            double u0, v0, u1, v1;
            m.TargetUvBounds(out u0, out v0, out u1, out v1);
            return new Vector4((float)u0, (float)v0, (float)u1, (float)v1);
        }

        private static Vector4 Row(double[] r)
        {
            return new Vector4((float)r[0], (float)r[1], (float)r[2], (float)r[3]);
        }

        /// <summary>Shader property ids of Runtime/Shaders/Resources/StreamDiffusionBridge.shader.</summary>
        internal static class Ids
        {
            public static readonly int MainTex = Shader.PropertyToID("_MainTex");
            public static readonly int Source = Shader.PropertyToID("_SDSource");
            public static readonly int SourceArray = Shader.PropertyToID("_SDSourceArray");
            public static readonly int CameraDepth = Shader.PropertyToID("_CameraDepthTexture");
            public static readonly int CurrentDepthArray = Shader.PropertyToID("_SDCurrentDepthArray");
            public static readonly int SourceDepth = Shader.PropertyToID("_SDSourceDepth");
            public static readonly int Result = Shader.PropertyToID("_SDResult");
            public static readonly int FlipY = Shader.PropertyToID("_SDFlipY");
            public static readonly int SourceUvScale = Shader.PropertyToID("_SDSourceUvScale");
            public static readonly int SourceFromTarget = Shader.PropertyToID("_SDSourceFromTarget");
            public static readonly int TargetRect = Shader.PropertyToID("_SDTargetRect");
            public static readonly int Display = Shader.PropertyToID("_SDDisplay");
            public static readonly int ResultRect = Shader.PropertyToID("_SDResultRect");
            public static readonly int Opacity = Shader.PropertyToID("_SDOpacity");
            public static readonly int Reproject = Shader.PropertyToID("_SDReproject");
            public static readonly int InvSrcRow3 = Shader.PropertyToID("_SDInvSrcRow3");
            public static readonly int InvDstRow3 = Shader.PropertyToID("_SDInvDstRow3");
            public static readonly int DepthToNdc = Shader.PropertyToID("_SDDepthToNdc");
            public static readonly int DepthTolerance = Shader.PropertyToID("_SDDepthTolerance");
            public static readonly int Orthographic = Shader.PropertyToID("_SDOrthographic");
            public static readonly int FarDepth = Shader.PropertyToID("_SDFarDepth");
            public static readonly int ObjectId = Shader.PropertyToID("_SDObjectId");
            public static readonly int ObjectIds = Shader.PropertyToID("_SDObjectIds");
            public static readonly int ObjectIdViewProjection = Shader.PropertyToID("_SDObjectIdMatrixVP");
            public static readonly int WorldToView = Shader.PropertyToID("_SDWorldToView");
            public static readonly int MotionArray = Shader.PropertyToID("_SDMotionArray");
            public static readonly int NormalArray = Shader.PropertyToID("_SDNormalArray");
            public static readonly int UrpNormals = Shader.PropertyToID("_CameraNormalsTexture");
            public static readonly int UrpMotion = Shader.PropertyToID("_MotionVectorTexture");
        }
    }
}
