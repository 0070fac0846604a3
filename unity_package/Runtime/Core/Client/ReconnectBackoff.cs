// Reconnect delays of BridgeClient's I/O thread: exponential backoff with full jitter, the policy of the Python
// client (python_server/sdbridge/transport/client_retry.py, class Backoff) and of the C++ core (client_retry.h). The
// n-th delay after a failed try is drawn uniformly in [0, min(cap, base * 2^n)], so the clients of a dead, full or
// draining replica do not all come back at the same instant and a balancer spreads them over the other replicas; a
// session that opens starts the delays again from base. BridgeClientOptions.ReconnectDelayMs is base and
// ReconnectMaxDelayMs is cap (50 ms and 1 s, Backoff's base_s and cap_s); ReconnectWindowMs bounds the tries.
// Which failed tries are tried again is the Python client's client_retry.retryable (ReconnectTries.Retryable).
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using System.Diagnostics;
using sdbridge.protocol;

namespace StreamDiffusion.Bridge.Core.Client
{
    /// <summary>The tries of one outage: the backoff's delays and the window (ReconnectWindowMs; 0: no end) that
    /// bounds them, counted from the first failed try since the last session (I/O thread only).</summary>
    internal sealed class ReconnectTries
    {
        private readonly ReconnectBackoff _backoff;
        private readonly int _windowMs;
        private long _failingSince = -1;  // Stopwatch ticks of the first failed try; -1: none

        internal ReconnectTries(ReconnectBackoff backoff, int windowMs)
        {
            _backoff = backoff;
            _windowMs = windowMs;
        }

        /// <summary>True for a failed try that another try may fix, as the Python client's client_retry.retryable: no
        /// answer (a TransportException, or a transport's own exception that is no BridgeException), or a refusal
        /// for capacity (set_capacity_refusal in bridge.fbs: ErrorCodeSets.IsCapacityRefusal), decided on the wire
        /// ErrorCode; false for a version mismatch and any other refusal.</summary>
        internal static bool Retryable(Exception failure)
        {
            if (failure is VersionMismatchException) return false;
            var refusal = failure as ProtocolException;
            if (refusal != null) return ErrorCodeSets.IsCapacityRefusal((ErrorCode)refusal.Code);
            return true;
        }

        /// <summary>A session opened (or Reconnect() starts a new outage): the next delays start from base.</summary>
        internal void Reset()
        {
            _backoff.Reset();
            _failingSince = -1;
        }

        /// <summary>After a failed try: the delay before the next one, or -1 when the window is over.</summary>
        internal int NextDelayMs()
        {
            long now = Stopwatch.GetTimestamp();
            if (_failingSince < 0) _failingSince = now;
            int delay = _backoff.NextDelayMs();
            bool over = _windowMs > 0 && ClientClock.TicksToMs(now - _failingSince) + delay >= _windowMs;
            return over ? -1 : delay;
        }

        /// <summary>Why the tries stopped, naming the option, the last failure and the fixes.</summary>
        internal TransportException GaveUp(string endpoint, Exception last)
        {
            return new TransportException(
                "no session with " + endpoint + " after " + _backoff.Tries + " tries in " + _windowMs + " ms " +
                "(ReconnectWindowMs): stopped trying; the last try failed with: " + last.Message + ". Call Reconnect() " +
                "to try again, start the server (or more replicas behind the balancer), or set ReconnectWindowMs = 0 " +
                "to keep trying", last);
        }
    }

    /// <summary>Delays between reconnect tries (I/O thread only; not thread-safe).</summary>
    internal sealed class ReconnectBackoff
    {
        private readonly int _baseMs;
        private readonly int _capMs;
        private readonly Random _random;

        /// <summary>Delays drawn since the last Reset.</summary>
        internal int Tries { get; private set; }

        internal ReconnectBackoff(int baseMs, int capMs, Random random)
        {
            _baseMs = Math.Max(0, baseMs);
            _capMs = Math.Max(0, capMs);
            _random = random ?? new Random();
        }

        /// <summary>The ceiling the next NextDelayMs draws below: min(cap, base * 2^tries).</summary>
        internal int CeilingMs
        {
            get
            {
                long scaled = (long)_baseMs << Math.Min(Tries, 30);  // 2^30 * base is past any cap
                return (int)Math.Min(scaled, _capMs);
            }
        }

        /// <summary>The delay before the next try (and count this one): uniform in [0, CeilingMs].</summary>
        internal int NextDelayMs()
        {
            int ceiling = CeilingMs;
            Tries++;
            return ceiling <= 0 ? 0 : _random.Next(ceiling + 1);
        }

        /// <summary>Start again from base (after a session opened).</summary>
        internal void Reset()
        {
            Tries = 0;
        }
    }
}
