// Writes the engine-free client's messages to the Unity console: Warning -> Debug.LogWarning, Error ->
// Debug.LogError, Info -> Debug.Log, Debug (repeated retries) -> Debug.Log only when asked for (logRetries).
// The client calls it from its I/O thread; Unity's Debug.Log* may be called from any thread.
// NOT COMPILED OR RUN HERE against the real engine (no Unity editor on the build machines): type-checked with
// mono against the API stubs of unity_package/Tests~/UnityStubs. Unity 2022.3 LTS / Unity 6 Debug API.
using StreamDiffusion.Bridge.Core.Diagnostics;
using UnityEngine;

namespace StreamDiffusion.Bridge
{
    /// <summary>IBridgeLog for the Unity console.</summary>
    public sealed class UnityBridgeLog : IBridgeLog
    {
        private readonly bool _logRetries;

        /// <param name="logRetries">Also write Debug-level messages (every failed retry).</param>
        public UnityBridgeLog(bool logRetries)
        {
            _logRetries = logRetries;
        }

        /// <inheritdoc />
        public void Write(BridgeLogLevel level, string message)
        {
            switch (level)
            {
                case BridgeLogLevel.Error:
                    Debug.LogError(message);
                    break;
                case BridgeLogLevel.Warning:
                    Debug.LogWarning(message);
                    break;
                case BridgeLogLevel.Info:
                    Debug.Log(message);
                    break;
                default:
                    if (_logRetries) Debug.Log(message);
                    break;
            }
        }
    }
}
