// Project-wide defaults (endpoint, transport, prompt, capture size, CurveZMQ public keys and WHERE the client's
// secret certificate lives) edited on the Project Settings page "StreamDiffusion Bridge" and read at run time
// from Resources/StreamDiffusionSettings. The asset ships in players, so it holds no secret: the client's
// CurveZMQ secret key is read at connect time from a certificate file outside the build (CurveCertificate:
// SDBRIDGE_CURVE_CLIENT_CERT, curveClientCertificate, or ~/.sdbridge/keys/client.key_secret).
// NOT COMPILED OR RUN HERE against the real engine (no Unity editor on the build machines): type-checked with
// mono against the API stubs of unity_package/Tests~/UnityStubs (.ci/steps/unity_stubs.sh). Written against
// Unity 2022.3 LTS / Unity 6 documented API (ScriptableObject, Resources.Load, Application.unityVersion).
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

        [Tooltip("Also log every failed reconnect attempt (the first failure is always a Warning; the inspector " +
                 "shows the status).")]
        public bool logRetries;

        [Header("CurveZMQ (native transport only; leave the server key empty for none)")]
        [Tooltip("The server's PUBLIC key (Z85, 40 characters): the public-key line of the server's server.key.")]
        public string curveServerKey = "";

        [Tooltip("Path of THIS client's secret certificate (NAME.key_secret from `sdbridge keys generate`), outside " +
                 "Assets/ so it never ships. '~/' is the user's home. SDBRIDGE_CURVE_CLIENT_CERT overrides it.")]
        public string curveClientCertificate = "~/" + CurveCertificate.DefaultRelativePath;

        private static StreamDiffusionSettings _cached;

        /// <summary>The project's settings asset, or built-in defaults when none exists.</summary>
        public static StreamDiffusionSettings Load()
        {
            if (_cached != null) return _cached;
            _cached = Resources.Load<StreamDiffusionSettings>(ResourceName);
            if (_cached == null) _cached = CreateInstance<StreamDiffusionSettings>();
            return _cached;
        }

        /// <summary>Client options for these settings. With a CurveZMQ server key, the client's key pair is read
        /// from its certificate file (throws FileNotFoundException / FormatException naming the file and the fix).</summary>
        public BridgeClientOptions ToClientOptions(string clientName)
        {
            var transportOptions = new TransportOptions();
            if (!string.IsNullOrEmpty(curveServerKey))
            {
                CurveCertificate certificate = CurveCertificate.Locate(curveClientCertificate);
                transportOptions.CurveServerKey = curveServerKey;
                transportOptions.CurvePublicKey = certificate.PublicKey;
                transportOptions.CurveSecretKey = certificate.SecretKey;
            }
            return new BridgeClientOptions
            {
                Endpoint = endpoint,
                Transport = transport,
                TransportOptions = transportOptions,
                ClientName = clientName,
                EngineName = "Unity",
                EngineVersion = Application.unityVersion,
                Log = new UnityBridgeLog(logRetries),
            };
        }
    }
}
