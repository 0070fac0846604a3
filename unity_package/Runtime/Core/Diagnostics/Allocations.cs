// Per-thread allocation counter used to prove "no per-frame allocations in steady state". Bound at run time
// to GC.GetAllocatedBytesForCurrentThread (mono 6+, .NET Core 3+, Unity's .NET Standard 2.1 profile); where
// the runtime lacks it, Supported is false and counters read -1.
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using System.Reflection;

namespace StreamDiffusion.Bridge.Core
{
    /// <summary>Bytes allocated by the calling thread, if the runtime can tell.</summary>
    public static class Allocations
    {
        private static readonly Func<long> Counter = Bind();

        /// <summary>True when the runtime exposes a per-thread allocation counter.</summary>
        public static bool Supported { get { return Counter != null; } }

        /// <summary>Bytes allocated so far by the calling thread, or -1 when not supported.</summary>
        public static long CurrentThread()
        {
            return Counter == null ? -1 : Counter();
        }

        private static Func<long> Bind()
        {
            MethodInfo m = typeof(GC).GetMethod("GetAllocatedBytesForCurrentThread",
                BindingFlags.Public | BindingFlags.Static, null, Type.EmptyTypes, null);
            if (m == null || m.ReturnType != typeof(long)) return null;
            try
            {
                var f = (Func<long>)Delegate.CreateDelegate(typeof(Func<long>), m);
                f();
                return f;
            }
            catch (Exception)
            {
                return null;
            }
        }
    }
}
