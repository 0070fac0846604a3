// Which engine planes a StreamDiffusionCamera sends with its colour frames, and the PlaneDesc conventions they are
// sent with (schemas/bridge.fbs; every plane covers the capture texture, rows bottom-up like the colour pixels):
//   Depth    R32F  the camera's device depth (DepthEncoding.Device), ReversedZ = SystemInfo.usesReversedZBuffer
//                  (Direct3D 11/12, Metal, Vulkan, consoles: 1 at the near plane), DepthNear/DepthFar = the camera's
//                  clip planes. Fit's bars hold the far plane. Orthographic cameras: device depth is linear there,
//                  which the wire cannot say; send Depth only from perspective cameras.
//   Normals  RGBA16F view space (NormalSpace.View: +x right, +y up, +z towards the viewer, Unity's camera space),
//                  NormalEncoding.Signed; Built-in decodes _CameraDepthNormalsTexture (already view space), URP
//                  turns _CameraNormalsTexture's world-space normals into view space with the camera's
//                  worldToCameraMatrix (URP's forward depth-normals prepass stores plain world normals; the deferred
//                  renderer with Accurate G-buffer Normals packs them octahedrally, which this does not decode).
//                  HDRP: its normal buffer's octahedron-encoded world normals, decoded and turned into view space.
//   Motion   RG16F  MotionUnits.UV of the capture texture, MotionTarget.Previous (Unity's motion texture holds
//                  current uv - previous uv: it is negated), MotionYUp true (Unity's uv v grows upwards). Rescaled
//                  from camera uv to capture uv through the scale policy's mapping.
//   ObjectIds R8   Segmentation ids 1..255 of the StreamDiffusionObjectId objects in view (0: none), rows bottom-up;
//                  Built-in and URP (drawn with CommandBuffer.DrawRenderer), not HDRP.
//   Pose     RGBA8 a Control plane (named by the component, e.g. "openpose") drawn by the core's OpenPoseRenderer
//                  from Humanoid bones (StreamDiffusionPoseSource), rows top-down.
// NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of Unity's documented API);
// the PlaneDescription / OpenPoseRenderer parts are the engine-free core's, compiled and tested.
using System;
using StreamDiffusion.Bridge.Core.Protocol;
using UnityEngine;
using UnityEngine.Experimental.Rendering;
using sdbridge.protocol;

namespace StreamDiffusion.Bridge
{
    /// <summary>The engine planes a StreamDiffusionCamera can send (a component setting picks them).</summary>
    [Flags]
    public enum EnginePlanes
    {
        None = 0,
        Depth = 1,
        Normals = 2,
        Motion = 4,
        /// <summary>An OpenPose control image of the Humanoid avatars in view (StreamDiffusionPoseSource).</summary>
        Pose = 8,
        /// <summary>Segmentation ids of the StreamDiffusionObjectId objects in view (Built-in, URP).</summary>
        ObjectIds = 16,
    }

    /// <summary>Texture formats and wire descriptions of the GPU planes (Depth, Normals, Motion).</summary>
    internal static class EnginePlaneFormats
    {
        /// <summary>The GPU planes, in the order the ring reads them back.</summary>
        public static readonly EnginePlanes[] GpuPlanes =
        {
            EnginePlanes.Depth, EnginePlanes.Normals, EnginePlanes.Motion, EnginePlanes.ObjectIds,
        };

        /// <summary>The GPU planes of a selection.</summary>
        public const EnginePlanes GpuMask = EnginePlanes.Depth | EnginePlanes.Normals | EnginePlanes.Motion | EnginePlanes.ObjectIds;

        /// <summary>The plane texture's format, also the format it is read back in (no conversion).</summary>
        public static GraphicsFormat Format(EnginePlanes plane)
        {
            switch (plane)
            {
                case EnginePlanes.Depth: return GraphicsFormat.R32_SFloat;
                case EnginePlanes.Normals: return GraphicsFormat.R16G16B16A16_SFloat;
                case EnginePlanes.ObjectIds: return GraphicsFormat.R8_UNorm;
                default: return GraphicsFormat.R16G16_SFloat;
            }
        }

        /// <summary>The planes this package can send for the plane kinds a server wants (BridgeClient.WantedPlanes:
        /// Depth, Normals, Motion, Segmentation -> ObjectIds, Control -> Pose).</summary>
        public static EnginePlanes FromWanted(PlaneKind[] wanted)
        {
            EnginePlanes planes = EnginePlanes.None;
            if (wanted == null) return planes;
            foreach (PlaneKind kind in wanted)
            {
                switch (kind)
                {
                    case PlaneKind.Depth: planes |= EnginePlanes.Depth; break;
                    case PlaneKind.Normals: planes |= EnginePlanes.Normals; break;
                    case PlaneKind.Motion: planes |= EnginePlanes.Motion; break;
                    case PlaneKind.Segmentation: planes |= EnginePlanes.ObjectIds; break;
                    case PlaneKind.Control: planes |= EnginePlanes.Pose; break;
                }
            }
            return planes;
        }

        public static int BytesPerPixel(EnginePlanes plane)
        {
            switch (plane)
            {
                case EnginePlanes.Normals: return 8;
                case EnginePlanes.ObjectIds: return 1;
                default: return 4;
            }
        }

        /// <summary>The PlaneDesc of a GPU plane of <paramref name="camera"/> at the capture size.</summary>
        public static PlaneDescription Describe(EnginePlanes plane, Camera camera, int width, int height)
        {
            PlaneDescription d;
            switch (plane)
            {
                case EnginePlanes.Depth:
                    d = PlaneDescription.Packed(PlaneKind.Depth, PlaneFormat.R32F, (uint)width, (uint)height);
                    d.DepthEncoding = DepthEncoding.Device;
                    d.ReversedZ = SystemInfo.usesReversedZBuffer;
                    d.DepthNear = camera.nearClipPlane;
                    d.DepthFar = camera.farClipPlane;
                    break;
                case EnginePlanes.Normals:
                    d = PlaneDescription.Packed(PlaneKind.Normals, PlaneFormat.RGBA16F, (uint)width, (uint)height);
                    d.NormalSpace = NormalSpace.View;
                    d.NormalEncoding = NormalEncoding.Signed;
                    break;
                case EnginePlanes.ObjectIds:
                    d = PlaneDescription.Packed(PlaneKind.Segmentation, PlaneFormat.R8, (uint)width, (uint)height);
                    break;
                default:
                    d = PlaneDescription.Packed(PlaneKind.Motion, PlaneFormat.RG16F, (uint)width, (uint)height);
                    d.MotionUnits = MotionUnits.UV;
                    d.MotionTarget = MotionTarget.Previous;
                    d.MotionYUp = true;
                    break;
            }
            d.RowOrder = RowOrder.BottomUp; // AsyncGPUReadback returns row 0 at the bottom, like the colour pixels
            return d;
        }
    }
}
