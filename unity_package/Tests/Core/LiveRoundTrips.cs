// Frames through a real server, for the fixtures that start one (EndToEndTests, ReliabilityTests): a test image,
// one round trip that waits for the result echoing the frame's id, and the events seen so far for failure messages.
// Compiled and run here with mono + NUnit 2.6; uses only NUnit API that Unity's NUnit 3.5 also has.
using System.Diagnostics;
using System.Text;
using System.Threading;
using NUnit.Framework;
using StreamDiffusion.Bridge.Core.Client;

namespace StreamDiffusion.Bridge.Core.Tests
{
    /// <summary>Round trips of test frames through a live server.</summary>
    internal static class LiveRoundTrips
    {
        /// <summary>A size x size RGBA8 image whose bytes follow <paramref name="seed"/>.</summary>
        public static byte[] Image(int size, int seed)
        {
            var px = new byte[size * size * 4];
            for (int i = 0; i < px.Length; i++) px[i] = (byte)((i * 7 + seed * 13) & 0xFF);
            return px;
        }

        /// <summary>Submits <paramref name="pixels"/> as one frame and waits for the result that echoes its id
        /// (into <paramref name="frame"/>); fails naming the client's state, last failure and events on timeout.</summary>
        public static ResultFrame RoundTrip(BridgeClient client, byte[] pixels, FrameDescription description,
            ref ResultFrame frame, int timeoutMs)
        {
            ulong id = client.SubmitFrame(pixels, 0, pixels.Length, description);
            var sw = Stopwatch.StartNew();
            while (sw.ElapsedMilliseconds < timeoutMs)
            {
                if (client.TryGetResult(ref frame) && frame.Header.FrameId == id) return frame;
                Thread.Sleep(1);
            }
            Assert.Fail("no result for frame " + id + " within " + timeoutMs + " ms; client state " + client.State +
                        ", last failure: " + client.LastFailure + ", events: " + DrainEvents(client));
            return null;
        }

        /// <summary>The client's queued events, one a line (for failure messages); the queue is left empty.</summary>
        public static string DrainEvents(BridgeClient client)
        {
            var sb = new StringBuilder();
            ClientEvent e;
            while (client.TryDequeueEvent(out e)) sb.Append("\n  ").Append(e);
            return sb.ToString();
        }
    }
}
