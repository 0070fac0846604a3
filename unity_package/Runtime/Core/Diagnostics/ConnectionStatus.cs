// A consistent, copyable picture of one client's connection for UIs (the Unity inspector, tools):
// state, frames per second, round-trip latency and the last error. Read with BridgeClient.Status.
// Compiled and tested here with mono's mcs (C# 7.2).
using StreamDiffusion.Bridge.Core.Client;

namespace StreamDiffusion.Bridge.Core.Diagnostics
{
    /// <summary>Snapshot of a client's connection (a value: reading it never blocks the I/O thread for long).</summary>
    public struct ConnectionStatus
    {
        /// <summary>Where the client connects (BridgeClientOptions.Endpoint).</summary>
        public string Endpoint;
        public ClientState State;
        /// <summary>Server session id of the open session (0 when none).</summary>
        public ulong SessionId;
        /// <summary>Results received per second over the last full measuring window (about 1 s); 0 when none.</summary>
        public double ResultsPerSecond;
        /// <summary>Round trip of the newest result in ms (client send to client receive); -1 before the first.</summary>
        public double LastRoundTripMs;
        /// <summary>Exponential average of the round trip in ms (weight 0.1 per result); -1 before the first.</summary>
        public double AverageRoundTripMs;
        /// <summary>Results received since the client started.</summary>
        public long ResultsReceived;
        /// <summary>Connection attempts that failed since the last successful handshake.</summary>
        public int FailedAttempts;
        /// <summary>The last error with its cause and fix ("" when none since the last handshake).</summary>
        public string LastError;
        /// <summary>Client clock (BridgeClient.NowUs) of LastError; 0 when none.</summary>
        public ulong LastErrorTimeUs;

        /// <summary>One line for a status bar: "Connected, 24.8 results/s, 41 ms" or "Connecting (3 failed): ...".</summary>
        public override string ToString()
        {
            string text = State.ToString();
            if (State == ClientState.Connected)
            {
                text += ", " + ResultsPerSecond.ToString("0.0") + " results/s";
                if (AverageRoundTripMs >= 0) text += ", " + AverageRoundTripMs.ToString("0") + " ms round trip";
            }
            else if (FailedAttempts > 0)
            {
                text += " (" + FailedAttempts + " failed attempts)";
            }
            if (!string.IsNullOrEmpty(LastError)) text += ": " + LastError;
            return text;
        }
    }
}
