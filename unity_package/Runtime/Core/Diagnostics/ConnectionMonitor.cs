// Keeps one client's connection status and decides how loudly to report it:
//   - the first failed attempt after start or after a lost session: Warning, with endpoint, cause and fix;
//   - every further failed attempt: Debug (quiet; counted in ConnectionStatus.FailedAttempts);
//   - a handshake after failures: Info ("connected after N failed attempts");
//   - a lost session: Info (the client also raises a Disconnected event); a final failure: Error.
// Results update frames/s and round-trip figures without allocating (called per result on the I/O thread).
// Thread-safe: the I/O thread writes, any thread reads Snapshot. Log calls happen outside the lock.
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using System.Diagnostics;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Transport;

namespace StreamDiffusion.Bridge.Core.Diagnostics
{
    internal sealed class ConnectionMonitor
    {
        private const double RoundTripWeight = 0.1;
        private const long WindowMs = 1000;
        private const int SentRing = 16;   // frames in flight are bounded by credits (a handful)

        private readonly object _lock = new object();
        private readonly string _endpoint;
        private readonly TransportKind _transport;
        private readonly bool _usesCurve;
        private readonly IBridgeLog _log;

        private int _failedAttempts;
        private bool _warned;
        private ulong _sessionId;
        private string _lastError = "";
        private ulong _lastErrorTimeUs;
        private long _results;
        private double _lastRoundTripMs = -1;
        private double _averageRoundTripMs = -1;
        private long _windowStartTicks;
        private int _windowCount;
        private double _resultsPerSecond;
        // Send times of the last SentRing frames, so a round trip is known even from a server that does not
        // echo Frame.send_time_us in its Result (the schema asks it to; the sdbridge server echoes only
        // capture_time_us). Preallocated: recording a send allocates nothing.
        private readonly ulong[] _sentIds = new ulong[SentRing];
        private readonly ulong[] _sentUs = new ulong[SentRing];
        private int _sentNext;

        public ConnectionMonitor(string endpoint, TransportKind transport, bool usesCurve, IBridgeLog log)
        {
            _endpoint = endpoint;
            _transport = transport;
            _usesCurve = usesCurve;
            _log = log;
        }

        /// <summary>A connect or handshake attempt failed; the client will retry.</summary>
        public void AttemptFailed(Exception error)
        {
            string text = ConnectionAdvice.Describe(_endpoint, _transport, _usesCurve, error);
            bool first;
            int attempts;
            lock (_lock)
            {
                _failedAttempts++;
                attempts = _failedAttempts;
                first = !_warned;
                _warned = true;
                SetError(text);
            }
            if (first) Write(BridgeLogLevel.Warning, text + " (retrying quietly; the inspector shows the status)");
            else Write(BridgeLogLevel.Debug, "attempt " + attempts + " failed: " + text);
        }

        /// <summary>A handshake succeeded.</summary>
        public void Connected(ulong sessionId)
        {
            int failed;
            lock (_lock)
            {
                failed = _failedAttempts;
                _failedAttempts = 0;
                _warned = false;
                _sessionId = sessionId;
                _lastError = "";
                _lastErrorTimeUs = 0;
                _windowStartTicks = Stopwatch.GetTimestamp();
                _windowCount = 0;
                _resultsPerSecond = 0;
            }
            Write(BridgeLogLevel.Info, "connected to " + _endpoint + " (session " + sessionId + ")" +
                  (failed > 0 ? " after " + failed + " failed attempts" : ""));
        }

        /// <summary>An open session ended; the client reconnects (the next failure warns again).</summary>
        public void SessionLost(string reason)
        {
            lock (_lock)
            {
                _sessionId = 0;
                _warned = false;
                _resultsPerSecond = 0;
                SetError("session lost: " + reason);
            }
            Write(BridgeLogLevel.Info, "session with " + _endpoint + " lost (" + reason + "); reconnecting");
        }

        /// <summary>The client stopped for good (e.g. protocol major mismatch).</summary>
        public void Failed(Exception error)
        {
            string text = ConnectionAdvice.Describe(_endpoint, _transport, _usesCurve, error);
            lock (_lock)
            {
                _sessionId = 0;
                SetError(text);
            }
            Write(BridgeLogLevel.Error, text);
        }

        /// <summary>A frame left for the server at <paramref name="sentUs"/> (BridgeClient.NowUs).</summary>
        public void FrameSent(ulong frameId, ulong sentUs)
        {
            lock (_lock)
            {
                _sentIds[_sentNext] = frameId;
                _sentUs[_sentNext] = sentUs;
                _sentNext = (_sentNext + 1) % SentRing;
            }
        }

        /// <summary>The result for <paramref name="frameId"/> arrived at <paramref name="receivedUs"/>; the round
        /// trip is measured from the echoed send time, or else from the recorded one (unknown: not averaged).</summary>
        public void ResultReceived(ulong frameId, ulong echoedSendUs, ulong receivedUs)
        {
            long now = Stopwatch.GetTimestamp();
            lock (_lock)
            {
                _results++;
                ulong sentUs = echoedSendUs;
                for (int i = 0; i < SentRing && sentUs == 0; i++)
                {
                    if (_sentIds[i] == frameId && frameId != 0) sentUs = _sentUs[i];
                }
                long roundTripUs = sentUs > 0 && receivedUs >= sentUs ? (long)(receivedUs - sentUs) : -1;
                if (roundTripUs >= 0)
                {
                    _lastRoundTripMs = roundTripUs / 1000.0;
                    _averageRoundTripMs = _averageRoundTripMs < 0
                        ? _lastRoundTripMs
                        : _averageRoundTripMs + RoundTripWeight * (_lastRoundTripMs - _averageRoundTripMs);
                }
                _windowCount++;
                long elapsedMs = (now - _windowStartTicks) * 1000 / Stopwatch.Frequency;
                if (elapsedMs >= WindowMs)
                {
                    _resultsPerSecond = _windowCount * 1000.0 / elapsedMs;
                    _windowCount = 0;
                    _windowStartTicks = now;
                }
            }
        }

        /// <summary>The current status; <paramref name="state"/> comes from the client.</summary>
        public ConnectionStatus Snapshot(ClientState state)
        {
            long now = Stopwatch.GetTimestamp();
            lock (_lock)
            {
                // No result for two windows: the rate is 0 now, not the last window's figure.
                bool stale = (now - _windowStartTicks) * 1000 / Stopwatch.Frequency > 2 * WindowMs;
                return new ConnectionStatus
                {
                    Endpoint = _endpoint,
                    State = state,
                    SessionId = _sessionId,
                    ResultsPerSecond = state == ClientState.Connected && !stale ? _resultsPerSecond : 0,
                    LastRoundTripMs = _lastRoundTripMs,
                    AverageRoundTripMs = _averageRoundTripMs,
                    ResultsReceived = _results,
                    FailedAttempts = _failedAttempts,
                    LastError = _lastError,
                    LastErrorTimeUs = _lastErrorTimeUs,
                };
            }
        }

        // Called under _lock.
        private void SetError(string text)
        {
            _lastError = text;
            _lastErrorTimeUs = BridgeClient.NowUs();
        }

        private void Write(BridgeLogLevel level, string message)
        {
            if (_log == null) return;
            try
            {
                _log.Write(level, "StreamDiffusion: " + message);
            }
            catch (Exception)
            {
                // A failing sink must not take the I/O thread down; there is nowhere else to report it.
            }
        }
    }
}
