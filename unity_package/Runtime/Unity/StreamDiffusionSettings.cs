// Project-wide defaults (endpoint, transport, prompt, capture size) edited on the Project Settings page
// "StreamDiffusion Bridge" and read at run time from Resources/StreamDiffusionSettings.
// NOT COMPILED OR RUN HERE: there is no Unity editor on the build machines. Written against Unity 2021.3's
// documented API (ScriptableObject, Resources.Load).
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Transport;
using UnityEngine;

namespace StreamDiffusion.Bridge
{
    /// <summary>Project settings of the bridge. One asset at Assets/Resources/StreamDiffusionSettings.asset.</summary>
    public sealed class StreamDiffusionSettings : ScriptableObject
    {
        public const string ResourceName = "StreamDiffusionSettings";
        public const string AssetPath = "Assets/Resources/StreamDiffusionSettings.asset";

        [Tooltip("Server endpoint: `sdbridge serve --bind tcp://127.0.0.1:5555`.")]
        public string endpoint = "tcp://127.0.0.1:5555";

        [Tooltip("Managed: pure C# ZeroMQ, works in every player (IL2CPP included). Native: libzmq plugin " +
                 "(needed for CurveZMQ).")]
        public TransportKind transport = TransportKind.Managed;

        [Tooltip("Prompt sent when a session opens (and after every reconnect).")]
        [TextArea(2, 5)] public string prompt = "a watercolor painting";

        [TextArea(1, 3)] public string negativePrompt = "";

        [Tooltip("Size of the captured frames sent to the server (the server may resize to its model size).")]
        public int captureWidth = 512;
        public int captureHeight = 512;

        [Tooltip("Most frames per second sent (0 = every rendered frame, limited by server credits).")]
        public int maxSendFps = 30;

        [Header("CurveZMQ (native transport only; leave empty for none)")]
        public string curveServerKey = "";
        public string curvePublicKey = "";
        public string curveSecretKey = "";

        private static StreamDiffusionSettings _cached;

        /// <summary>The project's settings asset, or built-in defaults when none exists.</summary>
        public static StreamDiffusionSettings Load()
        {
            if (_cached != null) return _cached;
            _cached = Resources.Load<StreamDiffusionSettings>(ResourceName);
            if (_cached == null) _cached = CreateInstance<StreamDiffusionSettings>();
            return _cached;
        }

        /// <summary>Client options for these settings.</summary>
        public BridgeClientOptions ToClientOptions(string clientName)
        {
            var transportOptions = new TransportOptions();
            if (!string.IsNullOrEmpty(curveServerKey))
            {
                transportOptions.CurveServerKey = curveServerKey;
                transportOptions.CurvePublicKey = curvePublicKey;
                transportOptions.CurveSecretKey = curveSecretKey;
            }
            return new BridgeClientOptions
            {
                Endpoint = endpoint,
                Transport = transport,
                TransportOptions = transportOptions,
                ClientName = clientName,
                EngineName = "Unity",
                EngineVersion = Application.unityVersion,
            };
        }
    }
}
