// Where the engine-free client writes what a person should read (connection failures, reconnects, refusals).
// The Unity layer maps it to Debug.Log* (StreamDiffusion.Bridge.UnityBridgeLog); tests use a recording fake.
// Called from the client's I/O thread: an implementation must be thread-safe and must not block.
// Compiled and tested here with mono's mcs (C# 7.2).
namespace StreamDiffusion.Bridge.Core.Diagnostics
{
    /// <summary>How loud a client message is. Debug is for repeated, expected noise (retries).</summary>
    public enum BridgeLogLevel
    {
        Debug = 0,
        Info = 1,
        Warning = 2,
        Error = 3,
    }

    /// <summary>A sink for the client's messages. Thread-safe, non-blocking.</summary>
    public interface IBridgeLog
    {
        /// <summary>Writes one message; called from the client's I/O thread.</summary>
        void Write(BridgeLogLevel level, string message);
    }
}
