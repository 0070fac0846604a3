// StreamDiffusionCamera's capture side (main thread): the readback ring, the send-rate gate, this frame's capture
// request handed to the pipeline hook (through BridgeFrame), last frame's readback, the AsyncGPUReadback callback that
// submits the pixels (with the engine planes when the server granted them) and the camera history the composite
// reprojects with. A plain object the component owns from OnEnable to OnDisable; it reads the component's public
// toggles (reproject, depthRingSize, scalePolicy, planes, planesAsServerAsks, posePlaneName) every frame, so changes
// in the inspector apply at once.
// NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of Unity's documented API);
// CaptureGate, CaptureMapping and CameraHistory are the engine-free core's, compiled and tested.
using System;
using StreamDiffusion.Bridge.Core.Capture;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Protocol;
using StreamDiffusion.Bridge.Core.Reprojection;
using Unity.Collections;
using Unity.Collections.LowLevel.Unsafe;
using UnityEngine;

namespace StreamDiffusion.Bridge
{
    /// <summary>Captures, reads back and sends one camera's frames (main thread, one per StreamDiffusionCamera).</summary>
    internal sealed class CameraCapture : IDisposable
    {
        private readonly StreamDiffusionCamera _owner;
        private readonly Camera _camera;
        private readonly BridgeFrame _frame;
        private readonly SceneCutDetector _sceneCuts;
        private readonly bool _planeShader;
        private readonly CaptureRing _ring;
        private readonly PlaneSender _planeSender = new PlaneSender();
        private readonly CameraHistory _history;
        private readonly CaptureGate _gate;
        private int _pendingSlot = -1;
        private float[] _pendingPose;
        private bool _pendingCut;

        /// <param name="planeShader">True when the plane shader was found (GPU planes can be drawn).</param>
        /// <param name="maxSendFps">Frames sent per second at most (0: every frame).</param>
        internal CameraCapture(StreamDiffusionCamera owner, Camera camera, BridgeFrame frame, SceneCutDetector sceneCuts,
                               bool planeShader, int maxSendFps)
        {
            _owner = owner;
            _camera = camera;
            _frame = frame;
            _sceneCuts = sceneCuts;
            _planeShader = planeShader;
            _ring = new CaptureRing(OnPixels);
            _history = new CameraHistory(Math.Max(16, owner.depthRingSize * 2));
            _gate = new CaptureGate(Mathf.Max(0, maxSendFps));
        }

        /// <summary>The client the pixels go to (set once it exists; null drops them).</summary>
        internal BridgeClient Client { get; set; }

        /// <summary>Frames dropped because all readback buffers were still in flight.</summary>
        internal long Dropped { get { return _ring.Dropped; } }

        private int DepthSlots { get { return _owner.reproject ? _owner.depthRingSize : 0; } }

        /// <summary>A new session: buffers at the server's frame size, history and send gate reset.</summary>
        internal void OnConnected(int width, int height)
        {
            _ring.Allocate(width, height, DepthSlots, GpuPlanes());
            _history.Clear(); // frame ids belong to a session
            _gate.Reset();
        }

        /// <summary>Reads back last frame's capture, or frees its buffer when no hook rendered it.</summary>
        internal void FinishPending()
        {
            if (_pendingSlot < 0) return;
            if (_frame.CaptureRecorded)
            {
                _ring.Complete(_pendingSlot, _frame.CaptureViewProjection, _pendingPose, _pendingCut);
            }
            else
            {
                _ring.Abandon(_pendingSlot);
                _sceneCuts.Restore(_pendingCut);
            }
            _pendingSlot = -1;
            _frame.CaptureRecorded = false;
            _frame.CaptureRequested = false;
        }

        /// <summary>Asks the hook for a capture this frame when the gate allows one and a readback buffer is free.</summary>
        internal void Schedule(ClientState state)
        {
            double now = Time.unscaledTime;
            if (!_gate.ShouldCapture(state, now)) return; // never while disconnected; at most maxSendFps
            _ring.Allocate(_ring.Width, _ring.Height, DepthSlots, GpuPlanes()); // follows the toggles (no-op if same)
            int slot;
            RenderTexture depthTarget;
            if (!_ring.TryBegin(out slot, out depthTarget)) return; // all readbacks in flight: dropped and counted
            _gate.Captured(now);
            _pendingSlot = slot;
            UpdateMapping();
            _frame.CaptureTarget = _ring.Target;
            _frame.DepthTarget = _owner.reproject ? depthTarget : null;
            _frame.PlanesRequested = _ring.Planes;
            _frame.DepthPlaneTarget = _ring.PlaneTarget(slot, EnginePlanes.Depth);
            _frame.NormalsPlaneTarget = _ring.PlaneTarget(slot, EnginePlanes.Normals);
            _frame.MotionPlaneTarget = _ring.PlaneTarget(slot, EnginePlanes.Motion);
            _frame.ObjectIdsPlaneTarget = _ring.PlaneTarget(slot, EnginePlanes.ObjectIds);
            _pendingPose = (SentPlanes() & EnginePlanes.Pose) != 0
                ? StreamDiffusionPoseSource.Project(_camera, _frame.Mapping) : null;
            _pendingCut = _sceneCuts.Consume(); // rides with this capture: Frame.scene_cut when it is sent
            _frame.CaptureRequested = true;
        }

        private void UpdateMapping()
        {
            int cameraWidth = Mathf.Max(1, _camera.pixelWidth), cameraHeight = Mathf.Max(1, _camera.pixelHeight);
            CaptureMapping m = _frame.Mapping;
            ScalePolicy policy = _owner.scalePolicy;
            if (m.SourceWidth != cameraWidth || m.SourceHeight != cameraHeight || m.TargetWidth != _ring.Width ||
                m.TargetHeight != _ring.Height || m.Policy != policy)
            {
                _frame.Mapping = CaptureMapping.Compute(cameraWidth, cameraHeight, _ring.Width, _ring.Height, policy);
            }
        }

        /// <summary>The planes sent now: `planes`, or those the server wants with planesAsServerAsks.</summary>
        internal EnginePlanes SentPlanes()
        {
            if (!_owner.planesAsServerAsks) return _owner.planes;
            return Client != null ? EnginePlaneFormats.FromWanted(Client.WantedPlanes) : EnginePlanes.None;
        }

        /// <summary>The GPU planes to capture: the sent ones, when the plane shader is there.</summary>
        private EnginePlanes GpuPlanes()
        {
            return _planeShader ? SentPlanes() & EnginePlaneFormats.GpuMask : EnginePlanes.None;
        }

        /// <summary>Sets the composite's reprojection inputs for the result of frame sourceFrameId: its
        /// view-projection and depth when reprojecting and both are still kept, else none.</summary>
        internal void SetResultDepth(bool reprojecting, ulong sourceFrameId)
        {
            CameraRecord record;
            RenderTexture depth = null;
            if (reprojecting && _history.TryGet(sourceFrameId, out record))
            {
                depth = _ring.DepthOf(record.DepthSlot, record.CaptureSequence);
                _frame.ResultViewProjection = depth != null ? record.ViewProjection : null;
            }
            else
            {
                _frame.ResultViewProjection = null;
            }
            _frame.ResultDepth = depth;
        }

        // AsyncGPUReadback callback (main thread): send the pixels, remember the camera that rendered them.
        private unsafe void OnPixels(NativeArray<byte> data, CaptureInfo info)
        {
            BridgeClient client = Client;
            if (client == null || client.State != ClientState.Connected) return; // captured before a disconnect
            FrameDescription description = FrameDescription.Rgba8(_ring.Width, _ring.Height, sdbridge.protocol.RowOrder.BottomUp);
            description.ColorSpace = sdbridge.protocol.ColorSpace.SRGB;
            description.SceneCut = info.SceneCut; // protocol 1.4: the first frame after a scene cut
            ulong frameId;
            bool granted = client.Welcome != null && (client.Welcome.Capabilities & (uint)sdbridge.protocol.Capability.Planes) != 0;
            EnginePlanes sent = SentPlanes();
            if (sent != EnginePlanes.None && granted)
            {
                PlaneData[] withFrame = _planeSender.Planes(_ring, info, _camera, sent, _owner.posePlaneName);
                frameId = client.SubmitFrame(_planeSender.Color(data), 0, data.Length, description, withFrame);
            }
            else
            {
                IntPtr ptr = (IntPtr)NativeArrayUnsafeUtility.GetUnsafeReadOnlyPtr(data);
                frameId = client.SubmitFrame(ptr, data.Length, description); // copied into the client's pooled buffer
            }
            if (info.DepthSlot < 0) return;
            _history.Record(new CameraRecord
            {
                FrameId = frameId,
                ViewProjection = GpuConventions.ToCore(info.ViewProjection),
                DepthSlot = info.DepthSlot,
                CaptureSequence = info.Sequence,
            });
        }

        /// <summary>Waits for readbacks in flight, then frees the ring's buffers.</summary>
        public void Dispose()
        {
            Client = null; // readbacks completing while the ring waits for them are not sent
            _pendingSlot = -1;
            _ring.Dispose();
        }
    }
}
