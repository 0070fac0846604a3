// Status a person can see: the connection-status snapshot, once-only logging of connection failures
// (with a recording fake logger), the advice text, and a Dispose that never blocks the caller on the network.
// Compiled and run here with mono + NUnit 2.6; uses only NUnit API that Unity's NUnit 3.5 also has.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NUnit.Framework;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Diagnostics;
using StreamDiffusion.Bridge.Core.Protocol;
using StreamDiffusion.Bridge.Core.Transport;

namespace StreamDiffusion.Bridge.Core.Tests
{
    /// <summary>Records every message (thread-safe) so tests can count levels.</summary>
    internal sealed class RecordingLog : IBridgeLog
    {
        private readonly List<KeyValuePair<BridgeLogLevel, string>> _entries = new List<KeyValuePair<BridgeLogLevel, string>>();

        public void Write(BridgeLogLevel level, string message)
        {
            lock (_entries) _entries.Add(new KeyValuePair<BridgeLogLevel, string>(level, message));
        }

        public List<string> At(BridgeLogLevel level)
        {
            var found = new List<string>();
            lock (_entries)
            {
                foreach (KeyValuePair<BridgeLogLevel, string> e in _entries)
                {
                    if (e.Key == level) found.Add(e.Value);
                }
            }
            return found;
        }
    }

    [TestFixture]
    public class StatusTests
    {
        private static int ClosedPort()
        {
            var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            int port = ((IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            return port;
        }

        [Test, Timeout(30000)]
        public void FirstFailureWarnsOnceWithEndpointCauseAndFixThenRetriesQuietly()
        {
            int port = ClosedPort();
            var log = new RecordingLog();
            var options = new BridgeClientOptions
            {
                Endpoint = "tcp://127.0.0.1:" + port,
                TransportOptions = new TransportOptions { ConnectTimeoutMs = 200 },
                ReconnectDelayMs = 10,
                ReconnectMaxDelayMs = 20,
                Log = log,
            };
            using (var client = new BridgeClient(options))
            {
                client.Start();
                Assert.IsTrue(Wait.Until(() => client.Status.FailedAttempts >= 4, 20000), "no retries seen");
                ConnectionStatus status = client.Status;
                Assert.AreEqual(ClientState.Connecting, status.State);
                Assert.AreEqual(options.Endpoint, status.Endpoint);
                Assert.AreEqual(0.0, status.ResultsPerSecond);
                StringAssert.Contains(options.Endpoint, status.LastError);
                Assert.Greater(status.LastErrorTimeUs, 0UL);

                List<string> warnings = log.At(BridgeLogLevel.Warning);
                Assert.AreEqual(1, warnings.Count, "the first failure warns once: " + string.Join(" | ", warnings.ToArray()));
                StringAssert.Contains("tcp://127.0.0.1:" + port, warnings[0]);
                StringAssert.Contains("refused", warnings[0].ToLowerInvariant());
                StringAssert.Contains("sdbridge serve --bind tcp://127.0.0.1:" + port, warnings[0]);
                Assert.GreaterOrEqual(log.At(BridgeLogLevel.Debug).Count, 3, "later retries are Debug");
                Assert.AreEqual(0, log.At(BridgeLogLevel.Error).Count);
                Assert.AreEqual(0, log.At(BridgeLogLevel.Info).Count);
            }
        }

        [Test]
        public void MonitorWarnsAgainOnlyAfterASessionWasLostAndReportsRecovery()
        {
            var log = new RecordingLog();
            var monitor = new ConnectionMonitor("tcp://10.0.0.1:5555", TransportKind.Managed, false, log);
            var refused = new TransportException("cannot connect", new SocketException((int)SocketError.ConnectionRefused));
            monitor.AttemptFailed(refused);
            monitor.AttemptFailed(refused);
            monitor.AttemptFailed(refused);
            Assert.AreEqual(1, log.At(BridgeLogLevel.Warning).Count);
            Assert.AreEqual(2, log.At(BridgeLogLevel.Debug).Count);
            Assert.AreEqual(3, monitor.Snapshot(ClientState.Connecting).FailedAttempts);

            monitor.Connected(42);
            ConnectionStatus connected = monitor.Snapshot(ClientState.Connected);
            Assert.AreEqual(42UL, connected.SessionId);
            Assert.AreEqual(0, connected.FailedAttempts);
            Assert.AreEqual("", connected.LastError);
            StringAssert.Contains("after 3 failed attempts", log.At(BridgeLogLevel.Info)[0]);

            monitor.AttemptFailed(refused);   // after a handshake the next failure is a new outage
            Assert.AreEqual(2, log.At(BridgeLogLevel.Warning).Count, "a new outage after a handshake warns again");
            monitor.SessionLost("connection closed");
            monitor.AttemptFailed(refused);
            Assert.AreEqual(3, log.At(BridgeLogLevel.Warning).Count);
            monitor.AttemptFailed(refused);
            Assert.AreEqual(3, log.At(BridgeLogLevel.Warning).Count);

            monitor.Failed(new VersionMismatchException(1, 1, 2, "server speaks 2.0"));
            List<string> errors = log.At(BridgeLogLevel.Error);
            Assert.AreEqual(1, errors.Count);
            StringAssert.Contains("major version", errors[0]);
        }

        [Test]
        public void MonitorMeasuresRoundTripAndRate()
        {
            var monitor = new ConnectionMonitor("tcp://127.0.0.1:1", TransportKind.Managed, false, null);
            ConnectionStatus before = monitor.Snapshot(ClientState.Connected);
            Assert.AreEqual(-1.0, before.LastRoundTripMs);
            Assert.AreEqual(-1.0, before.AverageRoundTripMs);
            monitor.Connected(1);
            monitor.ResultReceived(1, 1000, 11000);        // echoed send time: 10 ms
            monitor.FrameSent(2, 5000);
            monitor.ResultReceived(2, 0, 25000);           // no echo: the recorded send time gives 20 ms
            monitor.ResultReceived(99, 0, 30000);          // unknown frame: counted, not averaged
            ConnectionStatus s = monitor.Snapshot(ClientState.Connected);
            Assert.AreEqual(3L, s.ResultsReceived);
            Assert.AreEqual(20.0, s.LastRoundTripMs, 1e-9);
            Assert.AreEqual(11.0, s.AverageRoundTripMs, 1e-9);   // 10 + 0.1 * (20 - 10)
            Assert.AreEqual(0.0, monitor.Snapshot(ClientState.Reconnecting).ResultsPerSecond);
            // The rate is measured over ~1 s windows: feed results for a bit over one window.
            var sw = Stopwatch.StartNew();
            while (sw.ElapsedMilliseconds < 1100)
            {
                monitor.ResultReceived(3, 1000, 2000);
                System.Threading.Thread.Sleep(10);
            }
            double rate = monitor.Snapshot(ClientState.Connected).ResultsPerSecond;
            Assert.Greater(rate, 5.0);
            Assert.Less(rate, 200.0);
        }

        [Test]
        public void AdviceNamesTheFixForEachCause()
        {
            string ep = "tcp://192.168.1.20:5555";
            string refused = ConnectionAdvice.Describe(ep, TransportKind.Managed, false,
                new TransportException("x", new SocketException((int)SocketError.ConnectionRefused)));
            StringAssert.Contains(ep, refused);
            StringAssert.Contains("sdbridge serve --bind " + ep, refused);
            string silent = ConnectionAdvice.Describe(ep, TransportKind.Managed, false, new TransportException("no Welcome"));
            StringAssert.Contains("firewall", silent);
            StringAssert.Contains("no Welcome", silent);
            string curve = ConnectionAdvice.Describe(ep, TransportKind.Native, true, new TransportException("no Welcome"));
            StringAssert.Contains("CurveZMQ keys", curve);
            StringAssert.Contains("--authorized-keys", curve);
            string version = ConnectionAdvice.Describe(ep, TransportKind.Managed, false,
                new VersionMismatchException(1, 1, 2, "server speaks 2.0"));
            StringAssert.Contains("major version", version);
        }

        [Test, Timeout(30000)]
        public void DisposeReturnsWithinMillisecondsWhileTheIoThreadIsStuckConnecting()
        {
            // A listener that never speaks: the TCP connect succeeds, then the ZMTP greeting waits for
            // ConnectTimeoutMs (3 s). The old Dispose joined the I/O thread for up to 3 s here.
            var silent = new TcpListener(IPAddress.Loopback, 0);
            silent.Start();
            TcpClient accepted = null;
            try
            {
                int port = ((IPEndPoint)silent.LocalEndpoint).Port;
                var client = new BridgeClient(new BridgeClientOptions
                {
                    Endpoint = "tcp://127.0.0.1:" + port,
                    TransportOptions = new TransportOptions { ConnectTimeoutMs = 3000 },
                });
                client.Start();
                // The I/O thread is inside the greeting wait once its own 64-byte greeting has arrived here: it
                // sends the greeting first, then reads the peer's, which this listener never writes.
                // (held open until the end: closing it would end the greeting wait early).
                accepted = AcceptWithin(silent, 10000);
                Assert.IsTrue(Wait.Until(() => accepted.Available >= 64, 10000), "the client never sent its greeting");
                Assert.AreEqual(ClientState.Connecting, client.State);
                var sw = Stopwatch.StartNew();
                client.Dispose();
                long disposeMs = sw.ElapsedMilliseconds;
                // A bound, not a benchmark: DisposeWaitMs is 5 ms; 1000 ms leaves room for a loaded 2-core machine
                // and is still far below the 2.7 s the old join waited here.
                Assert.Less(disposeMs, 1000, "Dispose blocked the caller");
                Assert.AreEqual(ClientState.Closed, client.State);
                Assert.AreEqual(ClientState.Closed, client.Status.State);
                Assert.IsTrue(client.WaitForShutdown(10000), "the I/O thread finishes closing in the background");
            }
            finally
            {
                if (accepted != null) accepted.Close();
                silent.Stop();
            }
        }

        private static TcpClient AcceptWithin(TcpListener listener, int timeoutMs)
        {
            Assert.IsTrue(Wait.Until(listener.Pending, timeoutMs), "the client never opened the TCP connection");
            return listener.AcceptTcpClient();
        }
    }

    [TestFixture]
    public class StatusEndToEndTests
    {
        [Test, Timeout(180000)]
        public void StatusShowsSessionRateAndRoundTripWhileStreaming()
        {
            TestEnvironment.NeedPythonTools();
            using (ChildProcess server = ChildProcess.StartServer("identity", 0))
            {
                var log = new RecordingLog();
                var options = new BridgeClientOptions { Endpoint = "tcp://127.0.0.1:" + server.Port, Log = log };
                using (var client = new BridgeClient(options))
                {
                    client.Connect(30000);
                    var px = new byte[64 * 64 * 4];
                    var d = FrameDescription.Rgba8(64, 64, RowOrder.BottomUp);
                    ResultFrame r = null;
                    var sw = Stopwatch.StartNew();
                    int got = 0;
                    while (sw.ElapsedMilliseconds < 2500)
                    {
                        client.SubmitFrame(px, 0, px.Length, d);
                        if (client.WaitForResult(2000) && client.TryGetResult(ref r)) got++;
                    }
                    Assert.Greater(got, 0);
                    ConnectionStatus s = client.Status;
                    Assert.AreEqual(ClientState.Connected, s.State);
                    Assert.AreEqual(client.Welcome.SessionId, s.SessionId);
                    Assert.GreaterOrEqual(s.ResultsReceived, (long)got);
                    Assert.Greater(s.ResultsPerSecond, 0.0);
                    Assert.Greater(s.AverageRoundTripMs, 0.0);
                    Assert.Greater(s.LastRoundTripMs, 0.0);
                    Assert.AreEqual("", s.LastError);
                    StringAssert.Contains("Connected", s.ToString());
                    Assert.AreEqual(0, log.At(BridgeLogLevel.Warning).Count);
                    StringAssert.Contains("connected to", log.At(BridgeLogLevel.Info)[0]);
                }
            }
        }
    }
}
