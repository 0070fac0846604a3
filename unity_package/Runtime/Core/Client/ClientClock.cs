// The client's clock: wall time read once, then advanced by the monotonic Stopwatch, so timestamps are cheap,
// allocation-free (mono's DateTime.UtcNow allocates now and then) and immune to clock steps during a session.
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using System.Diagnostics;

namespace StreamDiffusion.Bridge.Core.Client
{
    /// <summary>Microsecond timestamps and Stopwatch tick conversions used by the client's parts.</summary>
    internal static class ClientClock
    {
        private static readonly long EpochTicks = new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;
        private static readonly long ClockBaseUs = (DateTime.UtcNow.Ticks - EpochTicks) / 10;
        private static readonly long ClockBaseTicks = Stopwatch.GetTimestamp();

        /// <summary>Microseconds since the Unix epoch (monotonic, no allocation).</summary>
        internal static ulong NowUs()
        {
            long elapsed = Stopwatch.GetTimestamp() - ClockBaseTicks;
            return (ulong)(ClockBaseUs + elapsed / Stopwatch.Frequency * 1000000L +
                           elapsed % Stopwatch.Frequency * 1000000L / Stopwatch.Frequency);
        }

        internal static long TicksToMs(long ticks)
        {
            return ticks * 1000 / Stopwatch.Frequency;
        }

        internal static long TicksToUs(long ticks)
        {
            return ticks / Stopwatch.Frequency * 1000000L + ticks % Stopwatch.Frequency * 1000000L / Stopwatch.Frequency;
        }
    }
}
