// StreamDiffusionCamera, per-frame part (main thread): LateUpdate's steps in order (events, connection transitions,
// scene cuts, last frame's readback, the newest result, this frame's capture request, the composite), the Built-in
// OnPreRender hook and the optional status overlay (OnGUI). The capture, readback and send steps are CameraCapture's
// (Capture/CameraCapture.cs). See StreamDiffusionCamera.cs for the whole.
// NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of Unity's documented API).
using System;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Protocol;
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
            _capture.FinishPending();
            if (connected) ApplyLatestResult();
            _capture.Schedule(_client.State);
            UpdateComposite(connected);
            bool gpuPlanes = connected && _planeMaterial != null;
            EnginePlanes sent = _capture.SentPlanes();
            _hooks.RequireModes((reproject || (gpuPlanes && (sent & (EnginePlanes.Depth | EnginePlanes.ObjectIds)) != 0)) && connected,
                                gpuPlanes && (sent & EnginePlanes.Normals) != 0, gpuPlanes && (sent & EnginePlanes.Motion) != 0);
        }

        // Built-in pipeline only: Unity calls it on scripts attached to the camera, after every script moved it.
        private void OnPreRender()
        {
            if (_hooks != null) _hooks.OnPreRender(_frame);
        }

        // The status overlay (showStatusOverlay): IMGUI's OnGUI runs for every enabled MonoBehaviour in the Editor and in
        // players, whatever the render pipeline, so no canvas or package is needed. ConnectionStatus.ToString is the
        // core's one-line summary (state, results/s, round trip, last error).
        private void OnGUI()
        {
            if (!showStatusOverlay || _client == null) return;
            GUI.Label(new Rect(10f, 10f, 900f, 60f), "StreamDiffusion: " + _client.Status);
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
            _capture.SetResultDepth(reproject && _frame.CompositeEnabled, _shownSource);
        }
    }
}
