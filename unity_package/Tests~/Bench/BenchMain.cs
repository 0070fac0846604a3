// C# side of the client benchmark (driven by run_bench.py, which also runs the Python reference client
// against the same server in the same run). 512x512 RGBA frames through the identity model:
//   latency: sequential round trips (submit, wait for that frame id), after 20 warm-ups -> p50 / p99;
//   throughput: the client always holds one frame waiting for credit (pipelined up to the server's credits)
//               until N results arrived -> results per second.
// Prints one JSON line. Usage: mono StreamDiffusion.Bridge.Bench.exe ENDPOINT managed|native N_LAT N_TP [SIZE]
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Transport;

internal static class BenchMain
{
    private static int Main(string[] args)
    {
        if (args.Length < 4)
        {
            Console.Error.WriteLine("usage: StreamDiffusion.Bridge.Bench.exe ENDPOINT managed|native N_LAT N_TP [SIZE]");
            return 2;
        }
        string endpoint = args[0];
        TransportKind kind = args[1] == "native" ? TransportKind.Native : TransportKind.Managed;
        int nLat = int.Parse(args[2], CultureInfo.InvariantCulture);
        int nTp = int.Parse(args[3], CultureInfo.InvariantCulture);
        int size = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 512;

        var frames = new List<byte[]>();
        for (int f = 0; f < 8; f++)
        {
            var px = new byte[size * size * 4];
            for (int y = 0; y < size; y++)
            {
                for (int x = 0; x < size; x++)
                {
                    int i = (y * size + x) * 4;
                    px[i] = (byte)(127 + 127 * Math.Sin(6.0 * x / size + f * 0.7));
                    px[i + 1] = (byte)(127 + 127 * Math.Sin(5.0 * y / size - f * 0.7));
                    px[i + 2] = (byte)(127 + 127 * Math.Sin(4.0 * (x + y) / size + 1.4 * f));
                    px[i + 3] = 255;
                }
            }
            frames.Add(px);
        }
        var desc = FrameDescription.Rgba8(size, size, RowOrder.TopDown);
        var options = new BridgeClientOptions { Endpoint = endpoint, Transport = kind, ClientName = "csharp-bench" };
        using (var client = new BridgeClient(options))
        {
            client.Connect(30000);
            ResultFrame frame = null;
            var rtts = new List<double>();
            for (int i = 0; i < nLat + 20; i++)
            {
                byte[] px = frames[i % frames.Count];
                long start = Stopwatch.GetTimestamp();
                ulong id = client.SubmitFrame(px, 0, px.Length, desc);
                while (true)
                {
                    if (!client.WaitForResult(5000)) throw new Exception("no result within 5 s (frame " + id + ")");
                    if (client.TryGetResult(ref frame) && frame.Header.FrameId == id) break;
                }
                if (i >= 20) rtts.Add((Stopwatch.GetTimestamp() - start) * 1000.0 / Stopwatch.Frequency);
            }

            long receivedBefore = client.Counters.ResultsReceived;
            long creditsBefore = client.Counters.CreditsReturned;
            long t0 = Stopwatch.GetTimestamp();
            int sent = 0;
            long lastProgress = t0;
            long done = 0;
            while (true)
            {
                ClientCounters c = client.Counters;
                done = (c.ResultsReceived - receivedBefore) + (c.CreditsReturned - creditsBefore);
                if (done >= nTp) break;
                if (!client.HasPendingFrame && sent < nTp)
                {
                    byte[] px = frames[sent % frames.Count];
                    client.SubmitFrame(px, 0, px.Length, desc);
                    sent++;
                }
                if (client.WaitForResult(1))
                {
                    client.TryGetResult(ref frame);
                    lastProgress = Stopwatch.GetTimestamp();
                }
                else if ((Stopwatch.GetTimestamp() - lastProgress) > 5 * Stopwatch.Frequency)
                {
                    throw new Exception("no progress for 5 s after " + done + " of " + nTp + " results");
                }
            }
            double elapsed = (double)(Stopwatch.GetTimestamp() - t0) / Stopwatch.Frequency;
            ClientCounters end = client.Counters;
            long results = end.ResultsReceived - receivedBefore;
            long dropped = end.CreditsReturned - creditsBefore;
            rtts.Sort();
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture,
                "{{\"client\": \"csharp-{0}\", \"fps\": {1:F1}, \"p50_ms\": {2:F3}, \"p99_ms\": {3:F3}, \"results\": {4}, " +
                "\"dropped\": {5}, \"replaced\": {6}}}",
                kind.ToString().ToLowerInvariant(), results / elapsed, Percentile(rtts, 0.5), Percentile(rtts, 0.99),
                results, dropped, end.FramesReplaced));
        }
        return 0;
    }

    private static double Percentile(List<double> sorted, double q)
    {
        if (sorted.Count == 0) return double.NaN;
        int i = (int)Math.Min(sorted.Count - 1, Math.Round(q * (sorted.Count - 1)));
        return sorted[i];
    }
}
