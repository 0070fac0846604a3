// StreamDiffusionCamera: add it to a Camera to stream the camera's frames to the sdbridge server and get the
// stylized frames back in OutputTexture (a RenderTexture for a RawImage, a material or a full-screen blit).
//
// Pixel contract (declared in every Frame header):
//   - RGBA8, 4 bytes per pixel, rows BOTTOM-UP (Unity's CPU image order; AsyncGPUReadback returns row 0 at
//     the bottom), colour space SRGB (the capture RenderTexture is ARGB32 with RenderTextureReadWrite.sRGB, so
//     the bytes read back are sRGB-encoded in both linear and gamma projects), alpha ignored.
//   - Results come back in the same format and row order, so they are written as-is into a persistent
//     Texture2D(RGBA32, mipChain: false, linear: false) in place (GetRawTextureData + Apply(false)).
// Capture: the camera renders into a capture RenderTexture; AsyncGPUReadback.RequestIntoNativeArray copies it
// into one of 3 persistent NativeArrays; when all 3 are still in flight the frame is dropped (counted), so the
// game never waits on the GPU or the network.
// Shutdown: OnDisable disposes the client (play-mode exit, domain reload and scene unload all call it);
// Application.quitting does the same for players.
//
// NOT COMPILED OR RUN HERE: there is no Unity editor on the build machines. Written against Unity 2021.3's
// documented API (AsyncGPUReadback.RequestIntoNativeArray, NativeArrayUnsafeUtility, Texture2D.GetRawTextureData,
// Graphics.Blit); the engine-free parts it calls (BridgeClient) are compiled and tested with mono.
using System;
using StreamDiffusion.Bridge.Core;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Protocol;
using Unity.Collections;
using Unity.Collections.LowLevel.Unsafe;
using UnityEngine;
using UnityEngine.Rendering;

namespace StreamDiffusion.Bridge
{
    [RequireComponent(typeof(Camera))]
    [DisallowMultipleComponent]
    [AddComponentMenu("StreamDiffusion/StreamDiffusion Camera")]
    public sealed class StreamDiffusionCamera : MonoBehaviour
    {
        private const int ReadbackBuffers = 3;

        [Tooltip("Overrides the project settings (Project Settings > StreamDiffusion Bridge) when set.")]
        public StreamDiffusionSettings settingsOverride;

        [Tooltip("Built-in render pipeline only: draw the stylized output to the screen. With URP/HDRP show " +
                 "OutputTexture on a full-screen RawImage instead.")]
        public bool blitToScreen = true;

        [Tooltip("Show the raw camera image until the first stylized frame arrives.")]
        public bool showInputUntilFirstResult = true;

        [Tooltip("Log connection changes, warnings and server errors to the console.")]
        public bool logEvents = true;

        /// <summary>The stylized output: use it on a RawImage, a material or blit it full screen.</summary>
        public RenderTexture OutputTexture { get { return _output; } }

        /// <summary>The client of this camera (null while disabled). Use it for prompts, params, events, state.</summary>
        public BridgeClient Client { get { return _client; } }

        /// <summary>Frames dropped because all readback buffers were still in flight.</summary>
        public long DroppedReadbacks { get; private set; }

        /// <summary>The latest result header (frame id, server timings, warm-up flag).</summary>
        public ResultHeader LastResult { get; private set; }

        /// <summary>Raised on the main thread for every client event (connected, errors, notices, stats).</summary>
        public event Action<ClientEvent> ClientEventRaised;

        private Camera _camera;
        private RenderTexture _capture;
        private RenderTexture _output;
        private Texture2D _resultTexture;
        private BridgeClient _client;
        private ResultFrame _result;
        private readonly NativeArray<byte>[] _readback = new NativeArray<byte>[ReadbackBuffers];
        private readonly bool[] _busy = new bool[ReadbackBuffers];
        private readonly Action<AsyncGPUReadbackRequest>[] _callbacks = new Action<AsyncGPUReadbackRequest>[ReadbackBuffers];
        private bool _hasResult;
        private float _lastSendTime = -1f;
        private StreamDiffusionSettings _settings;
        private RenderTexture _previousTarget;

        private void OnEnable()
        {
            _settings = settingsOverride != null ? settingsOverride : StreamDiffusionSettings.Load();
            if (!SystemInfo.supportsAsyncGPUReadback)
            {
                Debug.LogError("StreamDiffusionCamera: this platform/graphics API has no AsyncGPUReadback " +
                               "(SystemInfo.supportsAsyncGPUReadback is false); the component is disabled.", this);
                enabled = false;
                return;
            }
            int w = Mathf.Max(8, _settings.captureWidth);
            int h = Mathf.Max(8, _settings.captureHeight);
            _camera = GetComponent<Camera>();
            _capture = new RenderTexture(w, h, 24, RenderTextureFormat.ARGB32, RenderTextureReadWrite.sRGB)
            {
                name = "StreamDiffusion Capture",
            };
            _capture.Create();
            _output = new RenderTexture(w, h, 0, RenderTextureFormat.ARGB32, RenderTextureReadWrite.sRGB)
            {
                name = "StreamDiffusion Output",
            };
            _output.Create();
            // linear: false => the bytes are sRGB and are decoded when sampled, matching the capture.
            _resultTexture = new Texture2D(w, h, TextureFormat.RGBA32, false, false) { name = "StreamDiffusion Result" };
            for (int i = 0; i < ReadbackBuffers; i++)
            {
                _readback[i] = new NativeArray<byte>(w * h * 4, Allocator.Persistent, NativeArrayOptions.UninitializedMemory);
                _busy[i] = false;
                int index = i;
                _callbacks[i] = request => OnReadback(index, request);
            }
            _previousTarget = _camera.targetTexture;
            _camera.targetTexture = _capture;
            _hasResult = false;

            _client = new BridgeClient(_settings.ToClientOptions("unity:" + Application.productName));
            if (!string.IsNullOrEmpty(_settings.prompt)) _client.SetPrompt(_settings.prompt, _settings.negativePrompt);
            _client.Start();
            StreamDiffusionRegistry.Register(this);
            Application.quitting += Shutdown;
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
                _client.Dispose(); // sends Bye, joins the I/O thread, closes the socket
                _client = null;
            }
            // Readback requests write into the NativeArrays: wait for them before freeing the memory.
            AsyncGPUReadback.WaitAllRequests();
            for (int i = 0; i < ReadbackBuffers; i++)
            {
                if (_readback[i].IsCreated) _readback[i].Dispose();
                _busy[i] = false;
            }
            if (_camera != null && _camera.targetTexture == _capture) _camera.targetTexture = _previousTarget;
            DestroyOwned(ref _capture);
            DestroyOwned(ref _output);
            if (_resultTexture != null)
            {
                Destroy(_resultTexture);
                _resultTexture = null;
            }
        }

        private static void DestroyOwned(ref RenderTexture rt)
        {
            if (rt == null) return;
            rt.Release();
            Destroy(rt);
            rt = null;
        }

        private void LateUpdate()
        {
            if (_client == null) return;
            PumpEvents();
            ApplyLatestResult();
            RequestCapture();
        }

        private void RequestCapture()
        {
            int maxFps = _settings.maxSendFps;
            if (maxFps > 0 && _lastSendTime >= 0f && Time.unscaledTime - _lastSendTime < 1f / maxFps) return;
            if (_client.State != ClientState.Connected) return;
            int free = -1;
            for (int i = 0; i < ReadbackBuffers; i++)
            {
                if (!_busy[i])
                {
                    free = i;
                    break;
                }
            }
            if (free < 0)
            {
                DroppedReadbacks++; // all buffers in flight: drop this frame rather than stall
                return;
            }
            _busy[free] = true;
            _lastSendTime = Time.unscaledTime;
            AsyncGPUReadback.RequestIntoNativeArray(ref _readback[free], _capture, 0, TextureFormat.RGBA32, _callbacks[free]);
        }

        private unsafe void OnReadback(int index, AsyncGPUReadbackRequest request)
        {
            _busy[index] = false;
            if (request.hasError || _client == null || !_readback[index].IsCreated) return;
            NativeArray<byte> data = _readback[index];
            var description = FrameDescription.Rgba8(_capture.width, _capture.height, sdbridge.protocol.RowOrder.BottomUp);
            description.ColorSpace = sdbridge.protocol.ColorSpace.SRGB;
            IntPtr ptr = (IntPtr)NativeArrayUnsafeUtility.GetUnsafeReadOnlyPtr(data);
            _client.SubmitFrame(ptr, data.Length, description); // copied into the client's pooled buffer
        }

        private void ApplyLatestResult()
        {
            if (!_client.TryGetResult(ref _result)) return;
            ResultHeader h = _result.Header;
            LastResult = h;
            if (h.Width != _resultTexture.width || h.Height != _resultTexture.height ||
                h.PixelFormat != sdbridge.protocol.PixelFormat.RGBA8 || h.Stride != h.Width * 4)
            {
                Debug.LogWarning("StreamDiffusionCamera: result " + h.FrameId + " is " + h.Width + "x" + h.Height + " " +
                                 h.PixelFormat + " (stride " + h.Stride + "); expected " + _resultTexture.width + "x" +
                                 _resultTexture.height + " RGBA8 packed. Skipped.", this);
                return;
            }
            // Write in place into the persistent texture's CPU copy, then upload without mipmaps.
            NativeArray<byte> raw = _resultTexture.GetRawTextureData<byte>();
            NativeArray<byte>.Copy(_result.Pixels, 0, raw, 0, _result.Length);
            _resultTexture.Apply(false);
            Graphics.Blit(_resultTexture, _output);
            _hasResult = true;
        }

        private void PumpEvents()
        {
            ClientEvent e;
            while (_client.TryDequeueEvent(out e))
            {
                if (logEvents)
                {
                    switch (e.Kind)
                    {
                        case ClientEventKind.ServerError:
                        case ClientEventKind.Warning:
                        case ClientEventKind.Disconnected:
                            Debug.LogWarning("StreamDiffusion: " + e, this);
                            break;
                        case ClientEventKind.Failed:
                            Debug.LogError("StreamDiffusion: " + e, this);
                            break;
                        default:
                            Debug.Log("StreamDiffusion: " + e, this);
                            break;
                    }
                }
                Action<ClientEvent> handler = ClientEventRaised;
                if (handler != null) handler(e);
            }
        }

        // Built-in render pipeline: the camera renders into _capture (its targetTexture); draw the stylized
        // output (or the input until the first result) to the screen.
        private void OnGUI()
        {
            if (!blitToScreen || Event.current.type != EventType.Repaint || _output == null) return;
            Texture shown = _hasResult ? (Texture)_output : (showInputUntilFirstResult ? _capture : null);
            if (shown != null) GUI.DrawTexture(new Rect(0, 0, Screen.width, Screen.height), shown, ScaleMode.ScaleToFit, false);
        }
    }
}
