// StreamDiffusionCamera, lifecycle part: the private state, OnEnable (settings, shader, pipeline hook, capture ring,
// display, client), OnDisable/Shutdown (frees all of it; Application.quitting for players), the (re)connect and
// disconnect transitions and the client-event pump. The serialized fields and public API are in StreamDiffusionCamera.cs.
// NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of Unity's documented API).
using System;
using StreamDiffusion.Bridge.Core;
using StreamDiffusion.Bridge.Core.Capture;
using StreamDiffusion.Bridge.Core.Client;
using UnityEngine;

namespace StreamDiffusion.Bridge
{
    public sealed partial class StreamDiffusionCamera
    {
        private Camera _camera;
        private StreamDiffusionSettings _settings;
        private BridgeClient _client;
        private Material _material;
        private BridgeFrame _frame;
        private PipelineHooks _hooks;
        private CameraCapture _capture;
        private ResultDisplay _display;
        private bool _wasConnected;
        private bool _hasResult;
        private ulong _shownSource;
        private StyleImageSet _styles;
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
                _material = null; // Destroy is deferred to the end of the frame: OnDisable must not destroy it again
                enabled = false;
                return;
            }
            _frame = new BridgeFrame(_camera, _material);
            BridgeFrame.Register(_frame);
            _sceneCuts = new SceneCutDetector(transform) { OnSceneLoad = sceneCutOnSceneLoad };
            _sceneCuts.Cut += OnSceneCut;
            Shader planeShader = Shader.Find(PlaneShaderName);
            if (planeShader != null)
            {
                _planeMaterial = new Material(planeShader) { name = "StreamDiffusion Planes", hideFlags = HideFlags.HideAndDontSave };
            }
            _frame.PlaneMaterial = _planeMaterial;
            _capture = new CameraCapture(this, _camera, _frame, _sceneCuts, _planeMaterial != null, _settings.maxSendFps);
            _display = new ResultDisplay();
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
            _capture.Client = _client;
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
            if (_capture != null) _capture.Dispose(); // waits for readbacks in flight before freeing their buffers
            _capture = null;
            if (_display != null) _display.Dispose();
            _display = null;
            if (_material != null) Destroy(_material);
            _material = null;
            if (_planeMaterial != null) Destroy(_planeMaterial);
            _planeMaterial = null;
            if (_sceneCuts != null) _sceneCuts.Dispose();
            _sceneCuts = null;
            _styles = null;
        }

        private void OnConnected()
        {
            int width, height;
            CaptureMapping.ServerFrameSize(_client.Welcome, Mathf.Max(8, _settings.captureWidth),
                                           Mathf.Max(8, _settings.captureHeight), out width, out height);
            _capture.OnConnected(width, height);
            _display.Allocate(width, height);
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

        private void OnSceneCut()
        {
            SceneCuts++;
            Action handler = SceneCut;
            if (handler != null) handler();
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
                            // (a server without this connection's session, behind a balancer, arrives as
                            // Disconnected, logged by the client as information, not as a ServerError)
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
