// Built-in render pipeline: one CommandBuffer on the camera at CameraEvent.AfterEverything (after image effects,
// before Screen Space - Overlay UI) that captures the finished frame, copies its depth for reprojection and draws
// the composite. The camera keeps rendering to its own target at its own resolution; nothing of the camera is
// changed except depthTextureMode |= Depth while reprojection or the depth plane needs it, | DepthNormals for the
// normals plane, | MotionVectors for the motion plane (the modes the camera had are restored afterwards).
// Re-recorded every frame from StreamDiffusionCamera.OnPreRender (called on scripts attached to the camera in the
// Built-in pipeline only), after every script moved the camera.
// NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of Unity's documented API);
// written for Unity 2022.3 LTS and Unity 6 (Camera.AddCommandBuffer, CameraEvent, CommandBuffer.Blit).
using UnityEngine;
using UnityEngine.Rendering;

namespace StreamDiffusion.Bridge
{
    /// <summary>The Built-in pipeline's capture/composite hook for one camera.</summary>
    internal sealed class BuiltinCameraHook
    {
        private const CameraEvent Event = CameraEvent.AfterEverything;
        private readonly Camera _camera;
        private readonly CommandBuffer _cmd = new CommandBuffer { name = "StreamDiffusion Bridge" };
        private DepthTextureMode _depthModeBefore;
        private DepthTextureMode _depthModeAdded;
        private bool _depthModeChanged;
        private bool _attached;

        public BuiltinCameraHook(Camera camera)
        {
            _camera = camera;
            _camera.AddCommandBuffer(Event, _cmd);
            _attached = true;
        }

        /// <summary>Asks the camera for the textures the bridge reads (_CameraDepthTexture, _CameraDepthNormalsTexture,
        /// _CameraMotionVectorsTexture) while it needs them; None gives the camera its own modes back.</summary>
        public void RequireModes(DepthTextureMode modes)
        {
            if (_depthModeChanged && modes == _depthModeAdded) return;
            if (_depthModeChanged) _camera.depthTextureMode = _depthModeBefore;
            _depthModeChanged = false;
            if (modes == DepthTextureMode.None) return;
            _depthModeBefore = _camera.depthTextureMode;
            _camera.depthTextureMode = _depthModeBefore | modes;
            _depthModeAdded = modes;
            _depthModeChanged = true;
        }

        /// <summary>Records this frame's draws (or none).</summary>
        public void Record(BridgeFrame frame)
        {
            _cmd.Clear();
            if (frame == null || !frame.HasWork) return;
            frame.PrepareForRender();
            BridgeDraws.RecordBuiltin(_cmd, frame);
        }

        public void Dispose()
        {
            RequireModes(DepthTextureMode.None);
            if (_attached && _camera != null) _camera.RemoveCommandBuffer(Event, _cmd);
            _attached = false;
            _cmd.Release();
        }
    }
}
