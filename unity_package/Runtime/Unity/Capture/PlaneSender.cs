// Turns one read-back capture into BridgeClient.SubmitFrame's arguments when engine planes are on: the colour bytes,
// the GPU planes the ring read back with them (EnginePlanes.cs states each plane's conventions) and the OpenPose
// control image drawn from the keypoints taken with the capture. The pixel buffers are kept and reused (the client
// copies during SubmitFrame); per frame only the small plane list is allocated.
// NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of Unity's documented API);
// PlaneDescription and OpenPoseRenderer are the engine-free core's, compiled and tested.
using System.Collections.Generic;
using StreamDiffusion.Bridge.Core.Pose;
using StreamDiffusion.Bridge.Core.Protocol;
using Unity.Collections;
using UnityEngine;
using sdbridge.protocol;

namespace StreamDiffusion.Bridge
{
    /// <summary>Assembles a capture's planes for SubmitFrame (main thread, one per StreamDiffusionCamera).</summary>
    internal sealed class PlaneSender
    {
        private readonly Dictionary<EnginePlanes, byte[]> _bytes = new Dictionary<EnginePlanes, byte[]>();
        private readonly List<PlaneData> _planes = new List<PlaneData>(4);
        private byte[] _color = new byte[0];

        /// <summary>The colour pixels copied out of the readback buffer (valid until the next call).</summary>
        public byte[] Color(NativeArray<byte> pixels)
        {
            if (_color.Length != pixels.Length) _color = new byte[pixels.Length];
            pixels.CopyTo(_color);
            return _color;
        }

        /// <summary>The planes of one capture: its read-back GPU planes, and the pose image when Pose is on and
        /// keypoints were taken (named <paramref name="poseName"/>, the server's ControlNet KIND).</summary>
        public PlaneData[] Planes(CaptureRing ring, CaptureInfo info, Camera camera, EnginePlanes wanted, string poseName)
        {
            _planes.Clear();
            foreach (EnginePlanes plane in EnginePlaneFormats.GpuPlanes)
            {
                if ((info.Planes & wanted & plane) == 0) continue;
                NativeArray<byte> buffer = ring.PlaneBuffer(info.Slot, plane);
                byte[] bytes = Buffer(plane, buffer.Length);
                buffer.CopyTo(bytes);
                _planes.Add(new PlaneData(EnginePlaneFormats.Describe(plane, camera, ring.Width, ring.Height), bytes));
            }
            if ((wanted & EnginePlanes.Pose) != 0 && info.Pose != null)
            {
                byte[] image = Buffer(EnginePlanes.Pose, ring.Width * ring.Height * 4);
                OpenPoseRenderer.Clear(image, ring.Width, ring.Height);
                var body = new float[OpenPoseRenderer.KeypointCount * 2];
                for (int start = 0; start + body.Length <= info.Pose.Length; start += body.Length)
                {
                    System.Array.Copy(info.Pose, start, body, 0, body.Length);
                    OpenPoseRenderer.Draw(image, ring.Width, ring.Height, body);
                }
                PlaneDescription d = PlaneDescription.Packed(PlaneKind.Control, PlaneFormat.RGBA8, (uint)ring.Width, (uint)ring.Height);
                d.Name = poseName; // rows top-down (Packed's default): the renderer draws the top row first
                _planes.Add(new PlaneData(d, image));
            }
            return _planes.ToArray();
        }

        private byte[] Buffer(EnginePlanes plane, int length)
        {
            byte[] bytes;
            if (!_bytes.TryGetValue(plane, out bytes) || bytes.Length != length)
            {
                bytes = new byte[length];
                _bytes[plane] = bytes;
            }
            return bytes;
        }
    }
}
