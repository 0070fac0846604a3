// Things the client reports to the game thread through BridgeClient.TryDequeueEvent (never callbacks on the
// I/O thread, so engine code can react on its main thread).
// Compiled and tested here with mono's mcs (C# 7.2).
using StreamDiffusion.Bridge.Core.Protocol;

namespace StreamDiffusion.Bridge.Core.Client
{
    public enum ClientState
    {
        /// <summary>Not started, or stopped.</summary>
        Idle = 0,
        /// <summary>Opening the connection and doing Hello/Welcome.</summary>
        Connecting = 1,
        /// <summary>Session open: frames flow.</summary>
        Connected = 2,
        /// <summary>Connection or session lost; waiting before the next attempt.</summary>
        Reconnecting = 3,
        /// <summary>Refused for good (e.g. protocol major mismatch: no retries), or no session within
        /// BridgeClientOptions.ReconnectWindowMs (Reconnect() tries again); see LastFailure.</summary>
        Failed = 4,
        /// <summary>Disposed.</summary>
        Closed = 5,
    }

    public enum ClientEventKind
    {
        Connected = 1,
        Disconnected = 2,
        Warning = 3,
        ServerError = 4,
        Notice = 5,
        Stats = 6,
        Failed = 7,
        /// <summary>The server answered a heartbeat Ping (sent when nothing else was sent for the Welcome's
        /// heartbeat interval): ClientEvent.Pong holds its nonce, the Ping's client time and the server's time;
        /// Message gives the round trip (this client's clock now minus PongMessage.ClientTimeUs).</summary>
        Pong = 8,
    }

    /// <summary>One report from the I/O thread. Only the member matching Kind is set.</summary>
    public sealed class ClientEvent
    {
        public ClientEventKind Kind;
        /// <summary>Human-readable text (reasons, warnings, error messages).</summary>
        public string Message = "";
        public WelcomeMessage Welcome;
        public ErrorMessage Error;
        public NoticeMessage Notice;
        public StatsMessage Stats;
        /// <summary>Set for ClientEventKind.Pong: the server's answer to a heartbeat Ping.</summary>
        public PongMessage Pong;
        public System.Exception Exception;

        public override string ToString()
        {
            return Kind + ": " + Message;
        }
    }

    /// <summary>Counters of one client (a snapshot; read with BridgeClient.Counters).</summary>
    public struct ClientCounters
    {
        public long FramesSubmitted;
        /// <summary>Submitted frames replaced by a newer one before they could be sent (no credit).</summary>
        public long FramesReplaced;
        public long FramesSent;
        /// <summary>Frames not sent because they break the Welcome's limits (size, bytes, pixel format).</summary>
        public long FramesRefusedLocally;
        public long ResultsReceived;
        /// <summary>Results overwritten by a newer one before the game thread took them.</summary>
        public long ResultsOverwritten;
        public long CreditsReturned;
        public long ServerErrors;
        public long Reconnects;
        public long MalformedMessages;
        /// <summary>Control messages dropped because MaxQueuedControlMessages were queued (server down).</summary>
        public long ControlMessagesDropped;
        public int Credits;
        public int InFlight;
        /// <summary>Bytes allocated by the I/O thread since its session opened (-1 if the runtime cannot
        /// tell). Steady-state streaming keeps this flat.</summary>
        public long IoThreadAllocatedBytes;
    }
}
