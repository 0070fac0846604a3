// StreamDiffusionCamera, per-frame part (main thread): LateUpdate's steps in order (events, connection transitions,
// scene cuts, last frame's readback, the newest result, this frame's capture request, the composite), the Built-in
// OnPreRender hook and the AsyncGPUReadback callback that sends the pixels. See StreamDiffusionCamera.cs for the whole.
// NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of Unity's documented API).
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
    public sealed partial class StreamDiffusionCamera
    {
        private void LateUpdate()
        {
            if (_client == null) return;
            PumpEvents();
            bool connected = _client.State == ClientState.Connected;
            if (connected && !_wasConnected) OnConnected();
            if (!connected && _wasConnected) OnDisconnected();
            _wasConnected = connected;
            _sceneCuts.OnSceneLoad = sceneCutOnSceneLoad;
            _sceneCuts.Track(teleportDistance, teleportAngle);
            FinishPendingCapture();
            if (connected) ApplyLatestResult();
            ScheduleCapture();
            UpdateComposite(connected);
            bool gpuPlanes = connected && _planeMaterial != null;
            EnginePlanes sent = SentPlanes();
            _hooks.RequireModes((reproject || (gpuPlanes && (sent & (EnginePlanes.Depth | EnginePlanes.ObjectIds)) != 0)) && connected,
                                gpuPlanes && (sent & EnginePlanes.Normals) != 0, gpuPlanes && (sent & EnginePlanes.Motion) != 0);
        }

        // Built-in pipeline only: Unity calls it on scripts attached to the camera, after every script moved it.
        private void OnPreRender()
        {
            if (_hooks != null) _hooks.OnPreRender(_frame);
        }

        /// <summary>Reads back last frame's capture, or frees its buffer when no hook rendered it.</summary>
        private void FinishPendingCapture()
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

        private void ScheduleCapture()
        {
            double now = Time.unscaledTime;
            if (!_gate.ShouldCapture(_client.State, now)) return; // never while disconnected; at most maxSendFps
            _ring.Allocate(_ring.Width, _ring.Height, reproject ? depthRingSize : 0, GpuPlanes()); // follows the toggles (no-op if same)
            int slot;
            RenderTexture depthTarget;
            if (!_ring.TryBegin(out slot, out depthTarget)) return; // all readbacks in flight: dropped and counted
            _gate.Captured(now);
            _pendingSlot = slot;
            int cameraWidth = Mathf.Max(1, _camera.pixelWidth), cameraHeight = Mathf.Max(1, _camera.pixelHeight);
            CaptureMapping m = _frame.Mapping;
            if (m.SourceWidth != cameraWidth || m.SourceHeight != cameraHeight || m.TargetWidth != _ring.Width ||
                m.TargetHeight != _ring.Height || m.Policy != scalePolicy)
            {
                _frame.Mapping = CaptureMapping.Compute(cameraWidth, cameraHeight, _ring.Width, _ring.Height, scalePolicy);
            }
            _frame.CaptureTarget = _ring.Target;
            _frame.DepthTarget = reproject ? depthTarget : null;
            _frame.PlanesRequested = _ring.Planes;
            _frame.DepthPlaneTarget = _ring.PlaneTarget(slot, EnginePlanes.Depth);
            _frame.NormalsPlaneTarget = _ring.PlaneTarget(slot, EnginePlanes.Normals);
            _frame.MotionPlaneTarget = _ring.PlaneTarget(slot, EnginePlanes.Motion);
            _frame.ObjectIdsPlaneTarget = _ring.PlaneTarget(slot, EnginePlanes.ObjectIds);
            _pendingPose = (SentPlanes() & EnginePlanes.Pose) != 0 ? StreamDiffusionPoseSource.Project(_camera, _frame.Mapping) : null;
            _pendingCut = _sceneCuts.Consume(); // rides with this capture: Frame.scene_cut when it is sent
            _frame.CaptureRequested = true;
        }

        /// <summary>The planes sent now: `planes`, or those the server wants with planesAsServerAsks.</summary>
        private EnginePlanes SentPlanes()
        {
            if (!planesAsServerAsks) return planes;
            return _client != null ? EnginePlaneFormats.FromWanted(_client.WantedPlanes) : EnginePlanes.None;
        }

        /// <summary>The GPU planes to capture: the sent ones, when the plane shader is there.</summary>
        private EnginePlanes GpuPlanes()
        {
            return _planeMaterial != null ? SentPlanes() & EnginePlaneFormats.GpuMask : EnginePlanes.None;
        }

        // AsyncGPUReadback callback (main thread): send the pixels, remember the camera that rendered them.
        private unsafe void OnPixels(NativeArray<byte> data, CaptureInfo info)
        {
            if (_client == null || _client.State != ClientState.Connected) return; // captured before a disconnect
            FrameDescription description = FrameDescription.Rgba8(_ring.Width, _ring.Height, sdbridge.protocol.RowOrder.BottomUp);
            description.ColorSpace = sdbridge.protocol.ColorSpace.SRGB;
            description.SceneCut = info.SceneCut; // protocol 1.4: the first frame after a scene cut
            ulong frameId;
            bool granted = _client.Welcome != null && (_client.Welcome.Capabilities & (uint)sdbridge.protocol.Capability.Planes) != 0;
            EnginePlanes sent = SentPlanes();
            if (sent != EnginePlanes.None && granted)
            {
                PlaneData[] withFrame = _planeSender.Planes(_ring, info, _camera, sent, posePlaneName);
                frameId = _client.SubmitFrame(_planeSender.Color(data), 0, data.Length, description, withFrame);
            }
            else
            {
                IntPtr ptr = (IntPtr)NativeArrayUnsafeUtility.GetUnsafeReadOnlyPtr(data);
                frameId = _client.SubmitFrame(ptr, data.Length, description); // copied into the client's pooled buffer
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

        private void ApplyLatestResult()
        {
            ResultHeader h;
            if (!_display.TryApply(_client, this, out h) || h.IsWarmup) return; // warm-up outputs are not passed off as results
            _hasResult = true;
            if (!h.Skipped) _shownSource = h.SourceFrameId; // a skipped frame repeats the previous output
        }

        private void UpdateComposite(bool connected)
        {
            _frame.CompositeEnabled = showOnScreen && connected && _hasResult;
            _frame.Result = _display.Texture;
            _frame.Opacity = opacity;
            _frame.ResultMapping = _frame.Mapping;
            _frame.DepthTolerance = depthTolerance;
            CameraRecord record;
            RenderTexture depth = null;
            if (reproject && _frame.CompositeEnabled && _history.TryGet(_shownSource, out record))
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

    }
}
