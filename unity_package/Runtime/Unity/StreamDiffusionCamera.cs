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
using System;
using System.Collections.Generic;
using StreamDiffusion.Bridge.Core.Capture;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Protocol;
using StreamDiffusion.Bridge.Core.Reprojection;
using Unity.Collections;
using Unity.Collections.LowLevel.Unsafe;
using UnityEngine;

namespace StreamDiffusion.Bridge
{
    [RequireComponent(typeof(Camera))]
    [DisallowMultipleComponent]
    [AddComponentMenu("StreamDiffusion/StreamDiffusion Camera")]
    public sealed class StreamDiffusionCamera : MonoBehaviour
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

        [Tooltip("The bridge shader (Runtime/Shaders/Resources/StreamDiffusionBridge.shader); set by default when the component is added.")]
        [SerializeField] private Shader bridgeShader;

        /// <summary>The stylized output for UI (RawImage) and materials; null until connected.</summary>
        public RenderTexture OutputTexture { get { return _display != null ? _display.Output : null; } }

        /// <summary>The client of this camera (null while disabled). Use it for prompts, params, events, state.</summary>
        public BridgeClient Client { get { return _client; } }

        /// <summary>Frames dropped because all readback buffers were still in flight.</summary>
        public long DroppedReadbacks { get { return _ring != null ? _ring.Dropped : 0; } }

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

        private Camera _camera;
        private StreamDiffusionSettings _settings;
        private BridgeClient _client;
        private Material _material;
        private BridgeFrame _frame;
        private PipelineHooks _hooks;
        private CaptureRing _ring;
        private ResultDisplay _display;
        private CameraHistory _history;
        private int _pendingSlot = -1;
        private float[] _pendingPose;
        private bool _pendingCut;
        private bool _wasConnected;
        private bool _hasResult;
        private ulong _shownSource;
        private CaptureGate _gate;
        private StyleImageSet _styles;
        private PlaneSender _planeSender;
        private SceneCutDetector _sceneCuts;
        private Material _planeMaterial;

        private void OnEnable()
        {
            _settings = settingsOverride != null ? settingsOverride : StreamDiffusionSettings.Load();
            _camera = GetComponent<Camera>();
            string problem = Prerequisites();
            if (problem != null)
            {
                Debug.LogError("StreamDiffusionCamera: " + problem + "; the component is disabled.", this);
                enabled = false;
                return;
            }
            string error;
            _hooks = PipelineHooks.Install(_camera, urpAutoInject, out error);
            if (_hooks == null)
            {
                Debug.LogError("StreamDiffusionCamera: " + error + "; the component is disabled.", this);
                Destroy(_material);
                enabled = false;
                return;
            }
            _frame = new BridgeFrame(_camera, _material);
            BridgeFrame.Register(_frame);
            _ring = new CaptureRing(OnPixels);
            _planeSender = new PlaneSender();
            _sceneCuts = new SceneCutDetector(transform) { OnSceneLoad = sceneCutOnSceneLoad };
            _sceneCuts.Cut += OnSceneCut;
            Shader planeShader = Shader.Find(PlaneShaderName);
            if (planeShader != null)
            {
                _planeMaterial = new Material(planeShader) { name = "StreamDiffusion Planes", hideFlags = HideFlags.HideAndDontSave };
            }
            _frame.PlaneMaterial = _planeMaterial;
            _display = new ResultDisplay();
            _history = new CameraHistory(Math.Max(16, depthRingSize * 2));
            _gate = new CaptureGate(Mathf.Max(0, _settings.maxSendFps));
            _wasConnected = false;
            _hasResult = false;

            BridgeClientOptions options;
            try
            {
                options = _settings.ToClientOptions("unity:" + Application.productName);
                if (!offerGameEvents) options.Capabilities &= ~(uint)sdbridge.protocol.Capability.GameEvents;
            }
            catch (Exception e) // e.g. the CurveZMQ certificate file is missing or malformed (the message names it)
            {
                Debug.LogError("StreamDiffusionCamera: " + e.Message + "; the component is disabled.", this);
                enabled = false; // OnDisable -> Shutdown frees the hook, textures and material set up above
                return;
            }
            _client = new BridgeClient(options);
            if (!string.IsNullOrEmpty(_settings.prompt)) _client.SetPrompt(_settings.prompt, _settings.negativePrompt);
            _styles = new StyleImageSet(() => _client, this);
            _client.Start();
            StreamDiffusionRegistry.Register(this);
            Application.quitting += Shutdown;
        }

        /// <summary>Null when the component can run here, else what is missing and how to fix it.</summary>
        private string Prerequisites()
        {
            if (!SystemInfo.supportsAsyncGPUReadback)
            {
                return "this platform/graphics API has no AsyncGPUReadback (SystemInfo.supportsAsyncGPUReadback is false)";
            }
            // bridgeShader is set by the script's default reference only when the component is added in the Editor;
            // added from code it is null, and Shader.Find finds the shader in a player because it lies in a
            // Resources folder (Runtime/Shaders/Resources: Shader.Find docs, 2022.3 / 6: a shader is in a build if a
            // used material references it, it is in Always Included Shaders, or it is in a "Resources" folder).
            Shader shader = bridgeShader != null ? bridgeShader : Shader.Find(ShaderName);
            if (shader == null)
            {
                return "the shader \"" + ShaderName + "\" is missing (expected in the package's Runtime/Shaders/Resources): " +
                       "reinstall the package, or add the shader to Project Settings > Graphics > Always Included Shaders";
            }
            _material = new Material(shader) { name = "StreamDiffusion Bridge", hideFlags = HideFlags.HideAndDontSave };
            return null;
        }

        private void OnDisable()
        {
            Shutdown();
        }

        private void Shutdown()
        {
            Application.quitting -= Shutdown;
            StreamDiffusionRegistry.Unregister(this);
            if (_client != null)
            {
                _client.Dispose();
                _client = null;
            }
            if (_hooks != null) _hooks.Dispose();
            _hooks = null;
            if (_frame != null) BridgeFrame.Unregister(_frame);
            _frame = null;
            if (_ring != null) _ring.Dispose(); // waits for readbacks in flight before freeing their buffers
            _ring = null;
            if (_display != null) _display.Dispose();
            _display = null;
            if (_material != null) Destroy(_material);
            _material = null;
            if (_planeMaterial != null) Destroy(_planeMaterial);
            _planeMaterial = null;
            if (_sceneCuts != null) _sceneCuts.Dispose();
            _sceneCuts = null;
            _pendingSlot = -1;
            _styles = null;
        }

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

        private void OnConnected()
        {
            int width, height;
            CaptureMapping.ServerFrameSize(_client.Welcome, Mathf.Max(8, _settings.captureWidth),
                                           Mathf.Max(8, _settings.captureHeight), out width, out height);
            _ring.Allocate(width, height, reproject ? depthRingSize : 0, GpuPlanes());
            _display.Allocate(width, height);
            _history.Clear(); // frame ids belong to a session
            _gate.Reset();
            _hasResult = false;
            _frame.ResultViewProjection = null;
            _frame.ResultDepth = null;
            _styles.SendList(styleTextures); // once: the client re-sends its style images after a reconnect
        }

        private void OnDisconnected()
        {
            _hasResult = false; // show the live frame, not a stale stylized one
            _frame.CaptureRequested = false;
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

        private void OnSceneCut()
        {
            SceneCuts++;
            Action handler = SceneCut;
            if (handler != null) handler();
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

        private void PumpEvents()
        {
            ClientEvent e;
            while (_client.TryDequeueEvent(out e))
            {
                if (logEvents)
                {
                    // Connection failures and reconnects are written by the client itself (once, then quietly).
                    switch (e.Kind)
                    {
                        case ClientEventKind.ServerError:
                        case ClientEventKind.Warning:
                            Debug.LogWarning("StreamDiffusion: " + e, this);
                            break;
                        case ClientEventKind.Notice:
                            Debug.Log("StreamDiffusion: " + e, this);
                            break;
                    }
                }
                Action<ClientEvent> handler = ClientEventRaised;
                if (handler != null) handler(e);
            }
        }
    }
}
