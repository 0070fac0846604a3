// Flow control of one session, owned by the I/O thread: credits held, frames in flight, and when the server
// last made progress (a Result or a Credit). Not thread-safe: only the I/O thread touches it; the caller-visible
// figures are copied into ClientCounters by ClientIoLoop under the session lock.
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using System.Diagnostics;

namespace StreamDiffusion.Bridge.Core.Client
{
    /// <summary>Credits and in-flight frames of the current session (I/O thread only).</summary>
    internal sealed class CreditWindow
    {
        /// <summary>Frames the server will still accept now.</summary>
        internal int Credits;
        /// <summary>Frames sent and not yet answered by a Result or a Credit.</summary>
        internal int InFlight;
        /// <summary>Stopwatch ticks of the last Result or Credit.</summary>
        internal long LastProgressTicks;
        /// <summary>Stopwatch ticks of the send that made InFlight go from 0 to 1.</summary>
        internal long LastFrameSentTicks;

        /// <summary>A new session: the Welcome's credits, nothing in flight.</summary>
        internal void Open(int initialCredits, long nowTicks)
        {
            Credits = initialCredits;
            InFlight = 0;
            LastProgressTicks = nowTicks;
            LastFrameSentTicks = nowTicks;
        }

        /// <summary>No session: no credit, nothing in flight.</summary>
        internal void Clear()
        {
            Credits = 0;
            InFlight = 0;
        }

        /// <summary>A frame was sent at <paramref name="nowTicks"/>.</summary>
        internal void Spend(long nowTicks)
        {
            Credits--;
            InFlight++;
            if (InFlight == 1) LastFrameSentTicks = nowTicks;
        }

        /// <summary>The server granted <paramref name="credits"/> and answered <paramref name="completed"/> frames.</summary>
        internal void Return(int credits, int completed)
        {
            Credits += credits;
            InFlight = Math.Max(0, InFlight - completed);
            LastProgressTicks = Stopwatch.GetTimestamp();
        }

        /// <summary>Milliseconds the server has been silent while frames are in flight (0 when none are).</summary>
        internal long SilentMs(long nowTicks)
        {
            if (InFlight <= 0) return 0;
            return ClientClock.TicksToMs(nowTicks - Math.Max(LastProgressTicks, LastFrameSentTicks));
        }
    }
}
