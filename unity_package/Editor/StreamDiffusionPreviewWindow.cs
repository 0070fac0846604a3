// Editor window "StreamDiffusion Preview" (Window > StreamDiffusion > Preview): in edit mode, renders the main
// camera's view (what the Game view shows) into a RenderTexture ~15 times a second through a hidden copy of the main
// camera (Camera.CopyFrom; the main camera itself and its targetTexture are left alone), sends it to the server with the
// prompt typed here and shows the live stylized view, so prompts can be tried without entering play mode.
// It uses the same settings asset and the same BridgeClient as play mode, so parameters and seeds match.
// Clean shutdown: the client is disposed on window close, before assembly (domain) reload, when play mode
// changes and when the editor quits.
// "Generate from prompt (txt2img)" (protocol 1.2 servers) stops capturing the camera: the server generates the frames
// from the prompt alone, one per credit (Params.Txt2img), shown at the model's size. "CFG mode" changes the server's
// classifier-free guidance between frames (Params.CfgMode; "Unknown" = leave the server's configured mode).
// "Style image" (StylePreviewSection.cs, IP-Adapter servers) sends a picked texture as a named style image.
// "Open in browser" opens the server's preview page (sdbridge serve --preview-port) on this window's own
// session (the address arrives in a Notice after Welcome, see PreviewPage), so the browser shows the same
// input, output and prompt; a prompt changed in the page comes back as a Notice and updates the field here.
// Edit mode has no steady player loop (it ticks on repaint or scene changes), so this window never waits for a
// readback callback: EditorApplication.update (which the editor calls ~100 times a second in edit mode) polls
// the stored AsyncGPUReadbackRequest with Update() and .done, queues a player-loop tick with
// EditorApplication.QueuePlayerLoopUpdate() while one is pending, and after ReadbackPatience falls back to the
// documented synchronous WaitForCompletion() (a stall of one preview frame, edit mode only).
// NOT COMPILED OR RUN HERE against the real engine (no Unity editor on the build machines): type-checked with
// mono against the API stubs of unity_package/Tests~/UnityStubs. Written against Unity 2022.3 LTS / Unity 6
// documented EditorWindow, EditorApplication (update, QueuePlayerLoopUpdate), AssemblyReloadEvents and
// AsyncGPUReadback / AsyncGPUReadbackRequest (Update, done, hasError, WaitForCompletion) API.
using System;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Protocol;
using Unity.Collections;
using Unity.Collections.LowLevel.Unsafe;
using UnityEditor;
using UnityEngine;
using UnityEngine.Rendering;

namespace StreamDiffusion.Bridge.Editor
{
    public sealed class StreamDiffusionPreviewWindow : EditorWindow
    {
        private const double CaptureInterval = 1.0 / 15.0;
        /// <summary>Seconds a readback may stay pending before the synchronous fallback.</summary>
        private const double ReadbackPatience = 0.25;
        /// <summary>Longest wait for the I/O thread before a domain reload (a connect attempt lasts up to 3 s).</summary>
        private const int ShutdownWaitMs = 4000;

        private string _endpoint;
        private string _prompt = "";
        private string _negative = "";
        private BridgeClient _client;
        private RenderTexture _capture;
        private Camera _captureCamera;  // hidden copy of the main camera that renders into _capture
        private Texture2D _result;
        private ResultFrame _frame;
        private NativeArray<byte> _readback;
        private bool _readbackBusy;
        private AsyncGPUReadbackRequest _request;
        private double _requestTime;
        private double _lastRepaint;
        private double _lastCapture;
        private string _status = "disconnected";
        private ResultHeader _lastHeader;
        private string _previewAddress = "";
        private bool _txt2img;
        private sdbridge.protocol.CfgMode _cfgMode = sdbridge.protocol.CfgMode.Unknown;  // Unknown: the server's
        private readonly StylePreviewSection _style = new StylePreviewSection();

        [MenuItem("Window/StreamDiffusion/Preview")]
        public static void Open()
        {
            GetWindow<StreamDiffusionPreviewWindow>("StreamDiffusion Preview");
        }

        private void OnEnable()
        {
            StreamDiffusionSettings settings = StreamDiffusionSettingsProvider.GetOrCreate();
            if (string.IsNullOrEmpty(_endpoint)) _endpoint = settings.endpoint;
            if (string.IsNullOrEmpty(_prompt)) _prompt = settings.prompt;
            EditorApplication.update += OnEditorUpdate;
            EditorApplication.playModeStateChanged += OnPlayModeChanged;
            EditorApplication.quitting += DisconnectAndWait;
            AssemblyReloadEvents.beforeAssemblyReload += DisconnectAndWait;
        }

        private void OnDisable()
        {
            EditorApplication.update -= OnEditorUpdate;
            EditorApplication.playModeStateChanged -= OnPlayModeChanged;
            EditorApplication.quitting -= DisconnectAndWait;
            AssemblyReloadEvents.beforeAssemblyReload -= DisconnectAndWait;
            Disconnect();
        }

        private void OnPlayModeChanged(PlayModeStateChange change)
        {
            // Play mode runs its own StreamDiffusionCamera client; free the socket and GPU memory here.
            if (change == PlayModeStateChange.ExitingEditMode || change == PlayModeStateChange.ExitingPlayMode) Disconnect();
        }

        private void Connect()
        {
            Disconnect();
            StreamDiffusionSettings settings = StreamDiffusionSettingsProvider.GetOrCreate();
            BridgeClientOptions options = settings.ToClientOptions("unity-editor-preview");
            options.Endpoint = _endpoint;
            int w = Mathf.Max(8, settings.captureWidth);
            int h = Mathf.Max(8, settings.captureHeight);
            _capture = new RenderTexture(w, h, 24, RenderTextureFormat.ARGB32, RenderTextureReadWrite.sRGB);
            _result = new Texture2D(w, h, TextureFormat.RGBA32, false, false);
            _readback = new NativeArray<byte>(w * h * 4, Allocator.Persistent, NativeArrayOptions.UninitializedMemory);
            _client = new BridgeClient(options);
            _style.Reset();
            if (!string.IsNullOrEmpty(_prompt)) _client.SetPrompt(_prompt, _negative);
            SendGenerationParams();
            _client.Start();
            _status = "connecting to " + _endpoint;
        }

        // Before a domain reload or quit the client's I/O thread must be gone (the old domain is unloaded), so
        // these wait for it, bounded by the connect timeout; everywhere else Dispose returns within ms.
        private void DisconnectAndWait()
        {
            BridgeClient client = _client;
            Disconnect();
            if (client != null) client.WaitForShutdown(ShutdownWaitMs);
        }

        private void Disconnect()
        {
            if (_client != null)
            {
                _client.Dispose(); // returns within BridgeClientOptions.DisposeWaitMs; closing finishes in background
                _client = null;
            }
            AsyncGPUReadback.WaitAllRequests();
            if (_readbackBusy) _request.WaitForCompletion(); // the request writes into _readback: finish it first
            _readbackBusy = false;
            if (_readback.IsCreated) _readback.Dispose();
            DestroyCaptureCamera();
            if (_capture != null)
            {
                _capture.Release();
                DestroyImmediate(_capture);
                _capture = null;
            }
            if (_result != null)
            {
                DestroyImmediate(_result);
                _result = null;
            }
            _status = "disconnected";
            _previewAddress = "";
        }

        private void OnEditorUpdate()
        {
            if (_client == null || EditorApplication.isPlayingOrWillChangePlaymode) return;
            if (EditorApplication.timeSinceStartup - _lastRepaint > 0.5)
            {
                _lastRepaint = EditorApplication.timeSinceStartup; // the status block changes without results too
                Repaint();
            }
            ClientEvent e;
            while (_client.TryDequeueEvent(out e))
            {
                string address;
                if (e.Kind == ClientEventKind.Notice && PreviewPage.TryGetAddress(e.Notice, out address))
                {
                    _previewAddress = address; // not a status change: the address of this session's page
                    Repaint();
                    continue;
                }
                if (e.Kind == ClientEventKind.Notice && PreviewPage.IsPromptChangeFromPage(e.Notice))
                {
                    _prompt = e.Notice.Prompt.Text; // the browser changed it: keep this window in sync
                    _negative = e.Notice.Prompt.Negative;
                }
                if (e.Kind == ClientEventKind.Connected) _previewAddress = ""; // a new session gets a new address
                _status = e.ToString();
            }
            if (_client.TryGetResult(ref _frame))
            {
                FitResultTexture();
                string problem = ResultPixels.TryCopy(_frame, _result); // size, format, stride and row order checked
                if (problem == null) _lastHeader = _frame.Header;
                else _status = problem;
                Repaint();
            }
            if (_readbackBusy)
            {
                PollReadback();
                return;
            }
            if (_client.State != ClientState.Connected || _txt2img) return;  // txt2img: nothing to capture
            if (EditorApplication.timeSinceStartup - _lastCapture < CaptureInterval) return;
            Camera cam = Camera.main;
            if (cam == null)
            {
                _status = "no camera tagged MainCamera in the open scene";
                return;
            }
            _lastCapture = EditorApplication.timeSinceStartup;
            RenderMainCamera(cam);
            _readbackBusy = true;
            _requestTime = EditorApplication.timeSinceStartup;
            // No callback: the request is polled in PollReadback (callbacks need player-loop ticks edit mode lacks).
            _request = AsyncGPUReadback.RequestIntoNativeArray(ref _readback, _capture, 0, TextureFormat.RGBA32);
            EditorApplication.QueuePlayerLoopUpdate();
        }

        // The main camera is never taken over (its targetTexture is not touched): a hidden, disabled camera copies its
        // settings and transform each time (Camera.CopyFrom: "copy all camera's variables ... set this camera's
        // transform to match the other camera"; the target texture is set after the copy) and renders into the capture.
        private void RenderMainCamera(Camera main)
        {
            if (_captureCamera == null)
            {
                var host = new GameObject("StreamDiffusion Preview Capture") { hideFlags = HideFlags.HideAndDontSave };
                _captureCamera = host.AddComponent<Camera>();
            }
            _captureCamera.CopyFrom(main);
            _captureCamera.enabled = false; // rendered only by the Render call below, never by the editor loop
            _captureCamera.targetTexture = _capture;
            _captureCamera.Render();
        }

        private void DestroyCaptureCamera()
        {
            if (_captureCamera == null) return;
            _captureCamera.targetTexture = null;
            DestroyImmediate(_captureCamera.gameObject);
            _captureCamera = null;
        }

        private void PollReadback()
        {
            _request.Update();
            if (!_request.done)
            {
                if (EditorApplication.timeSinceStartup - _requestTime < ReadbackPatience)
                {
                    EditorApplication.QueuePlayerLoopUpdate();
                    return;
                }
                _request.WaitForCompletion(); // documented synchronous path; done is true afterwards
            }
            _readbackBusy = false;
            if (_request.hasError || _client == null || !_readback.IsCreated) return;
            Submit();
        }

        // Generated frames have the model's size, not the capture's: the texture follows the results' size (back to
        // the capture's once txt2img is off).
        private void FitResultTexture()
        {
            if (_result == null) return;
            int w = (int)_frame.Header.Width, h = (int)_frame.Header.Height;
            if (w <= 0 || h <= 0 || (w == _result.width && h == _result.height)) return;
            DestroyImmediate(_result);
            _result = new Texture2D(w, h, TextureFormat.RGBA32, false, false);
        }

        // Txt2img and the CFG mode as Params (sent only when set: a client that never touches them leaves the
        // server's configuration alone).
        private void SendGenerationParams()
        {
            if (_client == null) return;
            var m = new ParamsMessage();
            if (_txt2img) m.Txt2img = true;
            if (_cfgMode != sdbridge.protocol.CfgMode.Unknown) m.CfgMode = _cfgMode;
            if (m.SetMask != 0) _client.SetParams(m);
        }

        private unsafe void Submit()
        {
            var description = FrameDescription.Rgba8(_capture.width, _capture.height, sdbridge.protocol.RowOrder.BottomUp);
            _client.SubmitFrame((IntPtr)NativeArrayUnsafeUtility.GetUnsafeReadOnlyPtr(_readback), _readback.Length, description);
        }

        private void OnGUI()
        {
            EditorGUILayout.LabelField("Server", EditorStyles.boldLabel);
            _endpoint = EditorGUILayout.TextField("Endpoint", _endpoint);
            EditorGUILayout.BeginHorizontal();
            if (GUILayout.Button(_client == null ? "Connect" : "Reconnect")) Connect();
            using (new EditorGUI.DisabledScope(_client == null))
            {
                if (GUILayout.Button("Disconnect")) Disconnect();
            }
            EditorGUILayout.EndHorizontal();
            EditorGUILayout.LabelField("Last event", _status);
            if (_client != null) StreamDiffusionCameraEditor.DrawStatus(_client.Status, _client.Counters);
            using (new EditorGUI.DisabledScope(string.IsNullOrEmpty(_previewAddress)))
            {
                if (GUILayout.Button(new GUIContent("Open in browser", string.IsNullOrEmpty(_previewAddress)
                        ? "Start the server with --preview-port 8765 to get a preview page for this session"
                        : _previewAddress)))
                {
                    Application.OpenURL(_previewAddress);
                }
            }

            EditorGUILayout.Space();
            EditorGUILayout.LabelField("Prompt", EditorStyles.boldLabel);
            _prompt = EditorGUILayout.TextArea(_prompt, GUILayout.MinHeight(40));
            _negative = EditorGUILayout.TextField("Negative", _negative);
            using (new EditorGUI.DisabledScope(_client == null))
            {
                if (GUILayout.Button("Send prompt")) _client.SetPrompt(_prompt, _negative);
            }
            bool txt2img = EditorGUILayout.Toggle("Generate from prompt (txt2img)", _txt2img);
            var cfgMode = (sdbridge.protocol.CfgMode)EditorGUILayout.EnumPopup("CFG mode", _cfgMode);
            if (_client != null && txt2img != _txt2img)
            {
                _client.SetParams(new ParamsMessage { Txt2img = txt2img });  // off: the camera is captured again
            }
            if (_client != null && cfgMode != _cfgMode && cfgMode != sdbridge.protocol.CfgMode.Unknown)
            {
                _client.SetParams(new ParamsMessage { CfgMode = cfgMode });
            }
            _txt2img = txt2img;
            _cfgMode = cfgMode;
            _style.Draw(_client);

            if (_result != null && _lastHeader.FrameId != 0)
            {
                EditorGUILayout.LabelField("Frame " + _lastHeader.FrameId + (_lastHeader.IsWarmup ? " (warm-up)" : "") +
                                           ", inference " + (_lastHeader.InferenceUs / 1000.0).ToString("F1") + " ms");
                Rect area = GUILayoutUtility.GetRect(position.width - 10, position.height - 200);
                EditorGUI.DrawPreviewTexture(area, _result, null, ScaleMode.ScaleToFit);
            }
            else if (_client != null)
            {
                EditorGUILayout.HelpBox("Waiting for the first stylized frame of the main camera...", MessageType.None);
            }
        }
    }
}
