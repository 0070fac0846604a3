// StreamDiffusionCamera: add it to a Camera to stream the camera's frames to the sdbridge server and show the
// stylized frames over the game, without taking the camera over: the camera keeps rendering to its own target
// (screen or RenderTexture) at its own resolution and aspect; targetTexture, aspect and projection are never touched.
//
// Per frame (main thread, LateUpdate):
//   - connection: no capture and no composite unless the client is Connected. On (re)connect the frame size comes
//     from the Welcome (the model's size, within MaxWidth/MaxHeight; project settings as the fallback).
//   - capture: the pipeline hook (Capture/PipelineHooks.cs: Built-in command buffer, URP pass, HDRP custom pass)
//     scales the finished camera frame into the server-size capture texture with scalePolicy (Fit: letterbox,
//     default; Crop; Stretch; math in Runtime/Core/Capture/CaptureMapping.cs) and, with reprojection on, copies the
//     frame's depth into a small ring. Next frame AsyncGPUReadback reads it into one of 3 persistent NativeArrays;
//     when all 3 are in flight the frame is dropped and counted (DroppedReadbacks).
//   - display: the newest result goes into a persistent Texture2D (and OutputTexture, a RenderTexture for UI and
//     materials); the hook's composite pass draws it over the live frame with `opacity`, mapped back with the same
//     policy. Until the first (non-warm-up) result, and while disconnected, the live frame shows alone.
//   - reprojection (`reproject`): a result depicts the frame ResultHeader.SourceFrameId (the server's echo already
//     accounts for the pipeline's latency_frames). The component keeps each sent frame's GPU view-projection matrix
//     (Core/Reprojection/CameraHistory) and depth (ring), and the composite warps the result to the current camera
//     per pixel (Core/Reprojection/Reprojector, mirrored by the shader); holes show the live frame.
//   - engine planes (`planes`, EnginePlanes.cs for the conventions): depth, view-space normals and motion vectors are
//     drawn into per-readback-slot textures by the same hook right after the colour capture and read back with it;
//     a frame goes out once its colour and planes are back (Capture/PlaneSender.cs). Pose draws an OpenPose control
//     image of every StreamDiffusionPoseSource from the bones at capture time (Pose/StreamDiffusionPoseSource.cs).
//     `planesAsServerAsks` sends instead the planes the server's ControlNets want (BridgeClient.WantedPlanes: the
//     Welcome's list, then each change the server announces). A server that did not grant the Planes capability
//     gets none: the component then sends colour only.
//   - scene cuts (SceneCutDetector.cs): SignalSceneCut(), a scene load, or a camera move beyond teleportDistance /
//     teleportAngle in one frame. The first capture after a cut carries the protocol 1.4 Frame.scene_cut flag (the
//     server resets the stream's temporal state before it); the cut also raises SceneCut and is counted in SceneCuts.
//   - game events: SendGameEvent forwards to the client (GameEvent messages, offered in the Hello's capabilities
//     while offerGameEvents is on; the server's rules files react to them).
//   - style images (protocol 1.4, servers with an IP-Adapter; Style/StyleImageSet.cs): SetStyleFromTexture reads a
//     texture without stalling the game and sends it as a named StyleImage; SetStyleBlend weighs the styles
//     (Params.style_blend). `styleTextures` is sent on the first connect whose server accepts style images.
// Shutdown: OnDisable disposes the client (play-mode exit, domain reload and scene unload all call it);
// Application.quitting does the same for players.
//
// NOT COMPILED OR RUN HERE against a real engine: there is no Unity editor on the build machines. Type-checked with
// mono's mcs against stubs of the documented Unity 2022.3 LTS / Unity 6 API (unity_package/Tests~/UnityStubs); the
// engine-free parts it calls (BridgeClient, CaptureMapping, Reprojector, CameraHistory) are compiled and tested.
//
// The class is split by responsibility into partial files (Unity finds the MonoBehaviour through this file, named
// after it, which holds the serialized fields and the public API):
//   StreamDiffusionCamera.Lifecycle.cs: enable/disable, connect/disconnect, client events, scene-cut events;
//   StreamDiffusionCamera.Frames.cs: the per-frame steps and the composite;
// and two plain objects it owns: CameraCapture (Capture/CameraCapture.cs: capture request, readback, send, camera
// history) and ResultDisplay (Display/ResultDisplay.cs: the newest result's textures).
using System;
using System.Collections.Generic;
using StreamDiffusion.Bridge.Core.Capture;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Protocol;
using StreamDiffusion.Bridge.Core.Reprojection;
using UnityEngine;

namespace StreamDiffusion.Bridge
{
    [RequireComponent(typeof(Camera))]
    [DisallowMultipleComponent]
    [AddComponentMenu("StreamDiffusion/StreamDiffusion Camera")]
    public sealed partial class StreamDiffusionCamera : MonoBehaviour
    {
        private const string ShaderName = "Hidden/StreamDiffusion/Bridge";
        private const string PlaneShaderName = "Hidden/StreamDiffusion/Planes";

        [Tooltip("Overrides the project settings (Project Settings > StreamDiffusion Bridge) when set.")]
        public StreamDiffusionSettings settingsOverride;

        [Header("Capture")]
        [Tooltip("How the camera frame is scaled to the server's frame size. Fit: the whole frame, aspect kept, black " +
                 "bars. Crop: the frame filled, aspect kept, sides cut. Stretch: the whole frame, aspect not kept.")]
        public ScalePolicy scalePolicy = ScalePolicy.Fit;

        [Header("Display")]
        [Tooltip("Draw the stylized frame over the camera's image (a full-screen composite pass). Off: only " +
                 "OutputTexture is updated (for a RawImage or a material).")]
        public bool showOnScreen = true;

        [Tooltip("0: the live frame; 1: the stylized frame.")]
        [Range(0f, 1f)] public float opacity = 1f;

        [Header("Reprojection")]
        [Tooltip("Warp the newest result to the current camera using the depth of the frame it depicts, so camera " +
                 "motion does not lag by the round trip. Needs the camera's depth texture.")]
        public bool reproject = true;

        [Tooltip("Depth textures kept for reprojection (one per recent capture, at the server's frame size). It must " +
                 "cover the frames in flight plus the model's latency_frames, or results arrive after their depth " +
                 "was reused and are shown unwarped.")]
        [Range(2, 16)] public int depthRingSize = 8;

        [Tooltip("Relative linear-depth difference above which a pixel counts as disoccluded (shows the live frame).")]
        [Range(0.001f, 0.1f)] public float depthTolerance = (float)Reprojector.DefaultTolerance;

        [Header("Engine planes")]
        [Tooltip("Planes sent with every frame for the server's ControlNets: device depth, view-space normals, motion " +
                 "vectors (pointing to the previous frame) and an OpenPose image of the StreamDiffusionPoseSource avatars.")]
        public EnginePlanes planes = EnginePlanes.None;

        [Tooltip("Send the planes the server's ControlNets want (the Welcome's list, then live changes) instead of " +
                 "the ones picked above.")]
        public bool planesAsServerAsks;

        [Tooltip("Name of the pose Control plane: the KIND the server serves the OpenPose ControlNet under.")]
        public string posePlaneName = "openpose";

        [Header("Scene cuts")]
        [Tooltip("A scene load is a scene cut (the server resets the stream's temporal state).")]
        public bool sceneCutOnSceneLoad = true;

        [Tooltip("A camera move longer than this in one frame (world units) is a scene cut; 0: off.")]
        public float teleportDistance = 10f;

        [Tooltip("A camera turn larger than this in one frame (degrees) is a scene cut; 0: off.")]
        [Range(0f, 180f)] public float teleportAngle = 60f;

        [Header("Game events")]
        [Tooltip("Offer the GameEvents capability in the Hello, so SendGameEvent reaches the server's rules.")]
        public bool offerGameEvents = true;

        [Header("Style images")]
        [Tooltip("Named style reference images (and their weights) sent on connect to a server with an IP-Adapter " +
                 "(protocol 1.4 StyleImage + Params.style_blend). Change them at runtime with SetStyleFromTexture.")]
        public List<StyleTexture> styleTextures = new List<StyleTexture>();

        [Header("Pipelines")]
        [Tooltip("URP: enqueue the bridge pass by script (no setup). Turn off when you added StreamDiffusionRendererFeature " +
                 "to the Universal Renderer yourself.")]
        public bool urpAutoInject = true;

        [Tooltip("Log server errors, warnings and notices to the console (connection problems are logged by the client).")]
        public bool logEvents = true;

        [Tooltip("Show one status line over the game view, in players too (IMGUI, every pipeline): connection state, " +
                 "results per second, round trip and the last error. The inspector shows the same in the Editor.")]
        public bool showStatusOverlay;

        [Tooltip("The bridge shader (Runtime/Shaders/Resources/StreamDiffusionBridge.shader); set by default when the component is added.")]
        [SerializeField] private Shader bridgeShader;

        /// <summary>The stylized output for UI (RawImage) and materials; null until connected.</summary>
        public RenderTexture OutputTexture { get { return _display != null ? _display.Output : null; } }

        /// <summary>The client of this camera (null while disabled). Use it for prompts, params, events, state.</summary>
        public BridgeClient Client { get { return _client; } }

        /// <summary>Frames dropped because all readback buffers were still in flight.</summary>
        public long DroppedReadbacks { get { return _capture != null ? _capture.Dropped : 0; } }

        /// <summary>The latest result header (frame id, server timings, warm-up flag).</summary>
        public ResultHeader LastResult { get { return _display != null ? _display.Last : default(ResultHeader); } }

        /// <summary>The camera-to-server mapping in use (zero until connected).</summary>
        public CaptureMapping CurrentMapping { get { return _frame != null ? _frame.Mapping : default(CaptureMapping); } }

        /// <summary>True when this frame's composite reprojects the result.</summary>
        public bool IsReprojecting { get { return _frame != null && _frame.Reprojecting; } }

        /// <summary>Raised on the main thread for every client event (connected, errors, notices, stats).</summary>
        public event Action<ClientEvent> ClientEventRaised;

        /// <summary>Raised on the main thread when a scene cut is signalled or detected.</summary>
        public event Action SceneCut;

        /// <summary>Scene cuts signalled or detected since the component was enabled.</summary>
        public long SceneCuts { get; private set; }

        /// <summary>Marks the next frame as the first of a new shot (a cut, a teleport, a level change): the server
        /// resets the stream's temporal state. Called automatically on scene loads and camera jumps.</summary>
        public void SignalSceneCut()
        {
            if (_sceneCuts != null) _sceneCuts.Signal();
        }

        /// <summary>Protocol 1.4: sends <paramref name="texture"/> as the style image <paramref name="name"/> (RGBA8;
        /// read on the CPU for a readable Texture2D, else by an asynchronous GPU readback, never stalling the game) and
        /// sets its weight in Params.style_blend (0 to 2, the other styles' weights kept). Needs the component enabled
        /// and a server with an IP-Adapter: a session without style images logs a warning when the pixels arrive.</summary>
        public void SetStyleFromTexture(string name, Texture texture, float weight = 1f)
        {
            RequireStyles("SetStyleFromTexture").Send(name, texture, weight);
        }

        /// <summary>Sets one style's weight in Params.style_blend (0 turns it off), keeping the other styles' weights.</summary>
        public void SetStyleBlend(string name, float weight)
        {
            RequireStyles("SetStyleBlend").SetWeight(name, weight);
        }

        /// <summary>Replaces the whole Params.style_blend selection: styles not named get no weight.</summary>
        public void SetStyleBlend(params AdapterWeightData[] weights)
        {
            RequireStyles("SetStyleBlend").SetSelection(weights);
        }

        private StyleImageSet RequireStyles(string call)
        {
            if (_styles == null)
                throw new InvalidOperationException(call + ": the StreamDiffusionCamera is disabled; enable it first (or list the style in styleTextures)");
            return _styles;
        }

        /// <summary>Reports a game event to the server (GameEvent message; its rules files can react).</summary>
        public void SendGameEvent(string eventName, params KeyValueData[] payload)
        {
            if (_client != null) _client.SendGameEvent(eventName, payload);
        }
    }
}
