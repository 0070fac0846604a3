// The capture side's GPU and CPU memory: the server-size capture texture, the depth ring (one small depth texture
// per recent capture, for reprojection) and the AsyncGPUReadback ring (3 persistent NativeArrays; a frame is dropped
// and counted when all 3 are in flight, so the game never waits on the GPU or the network).
// Engine planes (EnginePlanes.cs: depth, normals, motion) are drawn into per-slot textures of the same size and read
// back with the colour; a capture is handed over only when its colour and all its planes have arrived.
// Pixel contract of what is read back: RGBA8, rows BOTTOM-UP (Unity's CPU image order; AsyncGPUReadback returns row 0
// at the bottom), sRGB (the capture texture is ARGB32 with RenderTextureReadWrite.sRGB, so the bytes are sRGB-encoded
// in both linear and gamma projects).
// NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of Unity's documented API);
// written for Unity 2022.3 LTS and Unity 6 (AsyncGPUReadback.RequestIntoNativeArray, NativeArray, RenderTexture); the
// calls are listed in unity_package/README.md, Verification.
using System;
using Unity.Collections;
using UnityEngine;
using UnityEngine.Experimental.Rendering;
using UnityEngine.Rendering;

namespace StreamDiffusion.Bridge
{
    /// <summary>What was kept about one capture until its pixels come back.</summary>
    internal struct CaptureInfo
    {
        public Matrix4x4 ViewProjection;
        /// <summary>Depth ring slot holding this capture's depth, or -1.</summary>
        public int DepthSlot;
        public long Sequence;
        /// <summary>Readback slot (PlaneBuffer reads its planes during the onPixels call).</summary>
        public int Slot;
        /// <summary>The GPU planes read back with this capture.</summary>
        public EnginePlanes Planes;
        /// <summary>OpenPose keypoints (x, y per keypoint, 18 a body, capture pixels) taken with this capture, or null.</summary>
        public float[] Pose;
        /// <summary>This capture is the first after a scene cut.</summary>
        public bool SceneCut;
    }

    /// <summary>Capture texture, depth ring and readback ring of one StreamDiffusionCamera.</summary>
    internal sealed class CaptureRing : IDisposable
    {
        public const int ReadbackBuffers = 3;
        /// <summary>GPU plane kinds a slot can carry (EnginePlaneFormats.GpuPlanes).</summary>
        private const int PlaneKinds = 4;

        private readonly NativeArray<byte>[] _buffers = new NativeArray<byte>[ReadbackBuffers];
        private readonly bool[] _busy = new bool[ReadbackBuffers];
        private readonly CaptureInfo[] _info = new CaptureInfo[ReadbackBuffers];
        private readonly int[] _generationOf = new int[ReadbackBuffers];
        private readonly Action<AsyncGPUReadbackRequest>[] _callbacks = new Action<AsyncGPUReadbackRequest>[ReadbackBuffers];
        private readonly Action<NativeArray<byte>, CaptureInfo> _onPixels;
        private RenderTexture[] _depth = new RenderTexture[0];
        private long[] _depthSequence = new long[0];
        private readonly int[] _outstanding = new int[ReadbackBuffers];
        private readonly bool[] _failed = new bool[ReadbackBuffers];
        private readonly RenderTexture[,] _planeTargets = new RenderTexture[ReadbackBuffers, PlaneKinds];
        private readonly NativeArray<byte>[,] _planeBuffers = new NativeArray<byte>[ReadbackBuffers, PlaneKinds];
        private readonly Action<AsyncGPUReadbackRequest>[,] _planeCallbacks = new Action<AsyncGPUReadbackRequest>[ReadbackBuffers, PlaneKinds];
        private long _sequence;
        private int _generation; // bumped by Release: a late callback of freed buffers is ignored

        /// <param name="onPixels">Called on the main thread with the read-back pixels (valid during the call only).</param>
        public CaptureRing(Action<NativeArray<byte>, CaptureInfo> onPixels)
        {
            _onPixels = onPixels;
            for (int i = 0; i < ReadbackBuffers; i++)
            {
                int index = i;
                _callbacks[i] = request => OnReadback(index, request);
                for (int p = 0; p < PlaneKinds; p++) _planeCallbacks[i, p] = request => OnReadback(index, request);
            }
        }

        /// <summary>The server-size capture texture (null until Allocate).</summary>
        public RenderTexture Target { get; private set; }
        public int Width { get; private set; }
        public int Height { get; private set; }

        /// <summary>The GPU planes allocated (each readback slot has a texture and a buffer per plane).</summary>
        public EnginePlanes Planes { get; private set; }

        /// <summary>Captures dropped because all readback buffers were in flight.</summary>
        public long Dropped { get; private set; }

        /// <summary>(Re)creates the textures and buffers for <paramref name="width"/> x <paramref name="height"/>
        /// frames and a depth ring of <paramref name="depthSlots"/> (0: no reprojection).</summary>
        public void Allocate(int width, int height, int depthSlots, EnginePlanes planes = EnginePlanes.None)
        {
            planes &= EnginePlaneFormats.GpuMask;
            if (Target != null && width == Width && height == Height && depthSlots == _depth.Length && planes == Planes) return;
            Release();
            Width = width;
            Height = height;
            Planes = planes;
            AllocatePlanes(width, height, planes);
            Target = new RenderTexture(width, height, 0, RenderTextureFormat.ARGB32, RenderTextureReadWrite.sRGB)
            {
                name = "StreamDiffusion Capture",
            };
            Target.Create();
            for (int i = 0; i < ReadbackBuffers; i++)
            {
                _buffers[i] = new NativeArray<byte>(width * height * 4, Allocator.Persistent, NativeArrayOptions.UninitializedMemory);
                _busy[i] = false;
            }
            _depth = new RenderTexture[depthSlots];
            _depthSequence = new long[depthSlots];
            for (int i = 0; i < depthSlots; i++)
            {
                // Device depth of the captured frame over the camera's whole view (camera uv stretched), point-sampled.
                _depth[i] = new RenderTexture(width, height, 0, GraphicsFormat.R32_SFloat)
                {
                    name = "StreamDiffusion Depth " + i,
                    filterMode = FilterMode.Point,
                };
                _depth[i].Create();
                _depthSequence[i] = -1;
            }
        }

        private void AllocatePlanes(int width, int height, EnginePlanes planes)
        {
            for (int i = 0; i < ReadbackBuffers; i++)
            {
                for (int p = 0; p < PlaneKinds; p++)
                {
                    EnginePlanes plane = EnginePlaneFormats.GpuPlanes[p];
                    if ((planes & plane) == 0) continue;
                    _planeTargets[i, p] = new RenderTexture(width, height, 0, EnginePlaneFormats.Format(plane))
                    {
                        name = "StreamDiffusion " + plane + " " + i,
                        filterMode = FilterMode.Point,
                    };
                    _planeTargets[i, p].Create();
                    _planeBuffers[i, p] = new NativeArray<byte>(width * height * EnginePlaneFormats.BytesPerPixel(plane),
                                                                Allocator.Persistent, NativeArrayOptions.UninitializedMemory);
                }
            }
        }

        /// <summary>The texture the hook draws <paramref name="plane"/> of the capture in <paramref name="slot"/> into
        /// (null when that plane is not allocated).</summary>
        public RenderTexture PlaneTarget(int slot, EnginePlanes plane)
        {
            int p = Array.IndexOf(EnginePlaneFormats.GpuPlanes, plane);
            return slot < 0 || p < 0 ? null : _planeTargets[slot, p];
        }

        /// <summary>The read-back bytes of <paramref name="plane"/> for <paramref name="slot"/> (valid during onPixels).</summary>
        public NativeArray<byte> PlaneBuffer(int slot, EnginePlanes plane)
        {
            return _planeBuffers[slot, Array.IndexOf(EnginePlaneFormats.GpuPlanes, plane)];
        }

        /// <summary>Reserves a readback buffer for a capture this frame; false (counted as dropped) when all are
        /// in flight. <paramref name="depthTarget"/> is the depth ring slot to fill (null without a ring).</summary>
        public bool TryBegin(out int slot, out RenderTexture depthTarget)
        {
            depthTarget = null;
            slot = -1;
            if (Target == null) return false;
            for (int i = 0; i < ReadbackBuffers; i++)
            {
                if (_busy[i]) continue;
                slot = i;
                break;
            }
            if (slot < 0)
            {
                Dropped++;
                return false;
            }
            _busy[slot] = true;
            long sequence = ++_sequence;
            int depthSlot = -1;
            if (_depth.Length > 0)
            {
                depthSlot = (int)(sequence % _depth.Length);
                _depthSequence[depthSlot] = sequence;
                depthTarget = _depth[depthSlot];
            }
            _info[slot] = new CaptureInfo { DepthSlot = depthSlot, Sequence = sequence, Slot = slot, Planes = Planes };
            return true;
        }

        /// <summary>The capture of <paramref name="slot"/> was rendered: read it back (asynchronously).</summary>
        public void Complete(int slot, Matrix4x4 viewProjection, float[] pose, bool sceneCut)
        {
            _info[slot].ViewProjection = viewProjection;
            _info[slot].Pose = pose;
            _info[slot].SceneCut = sceneCut;
            _generationOf[slot] = _generation;
            _failed[slot] = false;
            _outstanding[slot] = 1;
            for (int p = 0; p < PlaneKinds; p++) if (_planeTargets[slot, p] != null) _outstanding[slot]++;
            AsyncGPUReadback.RequestIntoNativeArray(ref _buffers[slot], Target, 0, TextureFormat.RGBA32, _callbacks[slot]);
            for (int p = 0; p < PlaneKinds; p++)
            {
                if (_planeTargets[slot, p] == null) continue;
                // The plane texture's own GraphicsFormat: no conversion. The TextureFormat overload resolves its format
                // with GraphicsFormatUtility.GetGraphicsFormat(format, activeColorSpace == Linear), so in a linear
                // project TextureFormat.R8 can resolve to R8_SRGB and the object ids be sRGB-encoded on the way.
                // The array is passed by value inside Unity (AsyncRequestNativeArrayData.CreateAndCheckAccess), so the
                // local copy shares the persistent buffer and its safety handle.
                NativeArray<byte> buffer = _planeBuffers[slot, p];
                AsyncGPUReadback.RequestIntoNativeArray(ref buffer, _planeTargets[slot, p], 0,
                    EnginePlaneFormats.Format(EnginePlaneFormats.GpuPlanes[p]), _planeCallbacks[slot, p]);
            }
        }

        /// <summary>The capture of <paramref name="slot"/> was never rendered (camera off, back buffer): free it.</summary>
        public void Abandon(int slot)
        {
            _busy[slot] = false;
        }

        /// <summary>The depth texture of ring slot <paramref name="depthSlot"/> if it still holds capture
        /// <paramref name="sequence"/> (a later capture may have reused it), else null.</summary>
        public RenderTexture DepthOf(int depthSlot, long sequence)
        {
            if (depthSlot < 0 || depthSlot >= _depth.Length || _depthSequence[depthSlot] != sequence) return null;
            return _depth[depthSlot];
        }

        private void OnReadback(int index, AsyncGPUReadbackRequest request)
        {
            if (_generationOf[index] != _generation) return; // requested before a Release
            if (request.hasError) _failed[index] = true;
            if (--_outstanding[index] > 0) return; // the colour or a plane of this capture is still in flight
            _busy[index] = false;
            if (_failed[index] || !_buffers[index].IsCreated) return;
            _onPixels(_buffers[index], _info[index]);
        }

        /// <summary>Frees the textures and buffers (waits for readbacks in flight: they write into the buffers).</summary>
        public void Release()
        {
            AsyncGPUReadback.WaitAllRequests();
            _generation++;
            for (int i = 0; i < ReadbackBuffers; i++)
            {
                if (_buffers[i].IsCreated) _buffers[i].Dispose();
                _busy[i] = false;
                for (int p = 0; p < PlaneKinds; p++)
                {
                    if (_planeBuffers[i, p].IsCreated) _planeBuffers[i, p].Dispose();
                    DestroyTexture(_planeTargets[i, p]);
                    _planeTargets[i, p] = null;
                }
            }
            DestroyTexture(Target);
            Target = null;
            for (int i = 0; i < _depth.Length; i++) DestroyTexture(_depth[i]);
            _depth = new RenderTexture[0];
            _depthSequence = new long[0];
        }

        public void Dispose()
        {
            Release();
        }

        private static void DestroyTexture(RenderTexture rt)
        {
            if (rt == null) return;
            rt.Release();
            UnityEngine.Object.Destroy(rt);
        }
    }
}
