// Settings of a BridgeClient. Plain values so the Unity layer can fill them from a settings asset.
// Compiled and tested here with mono's mcs (C# 7.2).
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Diagnostics;
using StreamDiffusion.Bridge.Core.Transport;

namespace StreamDiffusion.Bridge.Core.Client
{
    /// <summary>How a <see cref="BridgeClient"/> connects and behaves.</summary>
    public sealed class BridgeClientOptions
    {
        /// <summary>Version of this package (com.streamdiffusion.bridge); sent in Hello.</summary>
        public const string PackageVersion = "1.0.0";

        /// <summary>Server endpoint, e.g. tcp://127.0.0.1:5555 (`sdbridge serve --bind ...`).</summary>
        public string Endpoint = "tcp://127.0.0.1:5555";

        public TransportKind Transport = TransportKind.Managed;
        public TransportOptions TransportOptions = new TransportOptions();

        public string ClientName = "streamdiffusion-bridge-csharp";
        public string ClientVersion = PackageVersion;
        /// <summary>"Unity" from the Unity layer; the engine-free core says "csharp".</summary>
        public string EngineName = "csharp";
        public string EngineVersion = "";

        /// <summary>Mask of Capability flags offered in Hello.</summary>
        public uint Capabilities = (uint)(Capability.Credits | Capability.PromptBlend | Capability.SeedBlend |
                                          Capability.GameEvents | Capability.Stats | Capability.Notices |
                                          Capability.Heartbeat | Capability.Txt2img | Capability.Planes |
                                          Capability.StyleImages);

        public PixelFormat[] PixelFormats = { PixelFormat.RGBA8, PixelFormat.BGRA8, PixelFormat.RGB8 };

        /// <summary>Time allowed for connect + Hello/Welcome.</summary>
        public int HandshakeTimeoutMs = 5000;

        /// <summary>Reconnect automatically (new socket, new Hello) when the connection or session is lost.</summary>
        public bool AutoReconnect = true;

        /// <summary>Reconnect tries (a lost session, no Welcome, a full or draining replica's SessionLimit refusal, a
        /// ServerShutdown notice) wait with exponential backoff and full jitter, as the Python client's
        /// client_retry.Backoff (base 50 ms, cap 1 s): the n-th delay is drawn uniformly in
        /// [0, min(ReconnectMaxDelayMs, ReconnectDelayMs * 2^n)], so the clients of one replica do not all come back at
        /// once and a balancer spreads them. The 1 s cap keeps the new handshake within about 1 s of a restarted server
        /// being ready (Tests/Core/ReliabilityTests).</summary>
        public int ReconnectDelayMs = 50;
        public int ReconnectMaxDelayMs = 1000;

        /// <summary>Give up after this long of failed tries in a row: the client goes Failed (LastFailure names this
        /// option and the last cause) until Reconnect() tries again. 0 = keep trying (a game's server may come back
        /// later).</summary>
        public int ReconnectWindowMs = 0;

        /// <summary>Test-only: the jitter's random source (null: a new System.Random per client).</summary>
        internal System.Random ReconnectJitter;

        /// <summary>With frames in flight, no Result or Credit for this long means the server is gone or stuck
        /// (covers dead peers libzmq hides and a pipeline stalled by unreadable results): a new session starts.</summary>
        public int ServerSilenceTimeoutMs = 10000;

        /// <summary>How long the I/O thread waits for the socket per loop when idle (ms). A submitted frame
        /// waits at most this long before it is sent.</summary>
        public int IdleWaitMs = 1;

        /// <summary>After any traffic, poll without blocking (yielding the CPU) for this long before falling back
        /// to IdleWaitMs slices, so a frame submitted right after a result goes out at once. 0 disables.</summary>
        public int SpinAfterActivityUs = 500;

        /// <summary>Most control messages (prompt, params, events, state) queued while not connected; beyond
        /// it the oldest are dropped, counted and reported once (a Warning event naming this limit).</summary>
        public int MaxQueuedControlMessages = 256;

        /// <summary>Re-send the last prompt, merged params and state after a reconnect (the new session
        /// starts with server defaults otherwise).</summary>
        public bool RestoreSessionOnReconnect = true;

        /// <summary>Where connection failures, reconnects and refusals are written (null: nowhere). The first failed
        /// attempt is a Warning naming the endpoint, the cause and the fix; later retries are Debug. Called from
        /// the I/O thread. The Unity layer passes a Debug.Log adapter.</summary>
        public IBridgeLog Log;

        /// <summary>How long Dispose waits for the I/O thread to say Bye and close (ms). It never waits longer:
        /// a thread still inside a connect attempt (up to TransportOptions.ConnectTimeoutMs) finishes closing on
        /// its own in the background. Use BridgeClient.WaitForShutdown where a tool must know it has finished.</summary>
        public int DisposeWaitMs = 5;

        /// <summary>Test-only: the protocol major sent in Hello (normally ProtocolVersion.Major).</summary>
        internal ushort ProtocolMajor = ProtocolVersion.Major;
        internal ushort ProtocolMinor = ProtocolVersion.Minor;

        internal BridgeClientOptions Clone()
        {
            return (BridgeClientOptions)MemberwiseClone();
        }
    }
}
