// Reliability and security against the real Python server (identity model): after a server restart the
// client handshakes again within 2 s of the new server being ready (both transports, default reconnect
// settings); CurveZMQ with the server's client allow-list on the native libzmq transport (a key on the
// list streams, a key not on it is refused). The managed transport speaks only ZMTP NULL; use an SSH
// tunnel to reach a remote server with it (see the package README).
// Compiled and run here with mono + NUnit 2.6; uses only NUnit API that Unity's NUnit 3.5 also has.
using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using NUnit.Framework;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Protocol;
using StreamDiffusion.Bridge.Core.Transport;

namespace StreamDiffusion.Bridge.Core.Tests
{
    public abstract class ReliabilityTestsBase
    {
        private const int Size = 32;
        private ChildProcess _server;
        private BridgeClient _client;

        protected abstract TransportKind Kind { get; }

        [SetUp]
        public void Need()
        {
            TestEnvironment.NeedPythonTools();
            if (Kind == TransportKind.Native) TestEnvironment.NeedNativeZmq();
        }

        [TearDown]
        public void Stop()
        {
            if (_client != null) _client.Dispose();
            _client = null;
            if (_server != null) _server.Dispose();
            _server = null;
        }

        internal static byte[] Image(int seed) { return LiveRoundTrips.Image(Size, seed); }

        internal static void RoundTrip(BridgeClient client, byte[] px, int timeoutMs)
        {
            ResultFrame frame = null;
            LiveRoundTrips.RoundTrip(client, px, FrameDescription.Rgba8(Size, Size, RowOrder.TopDown), ref frame, timeoutMs);
        }

        [Test, Timeout(180000)]
        public void HandshakesAgainWithin2sOfARestartedServer()
        {
            _server = ChildProcess.StartServer("identity", 0);
            int port = _server.Port;
            // Default reconnect settings: what a game gets out of the box.
            _client = new BridgeClient(new BridgeClientOptions
            {
                Endpoint = "tcp://127.0.0.1:" + port, Transport = Kind, ClientName = "csharp-restart-" + Kind,
            });
            _client.Connect(15000);
            for (int i = 0; i < 3; i++) RoundTrip(_client, Image(i), 15000);

            _server.Kill();
            _server.Dispose();
            _server = null;
            byte[] px = Image(7);
            var down = Stopwatch.StartNew();
            while (_client.State == ClientState.Connected && down.ElapsedMilliseconds < 20000)
            {
                _client.SubmitFrame(px, 0, px.Length, FrameDescription.Rgba8(Size, Size, RowOrder.TopDown));
                Thread.Sleep(20);
            }
            Assert.AreNotEqual(ClientState.Connected, _client.State, "the client did not notice the dead server");

            _server = ChildProcess.StartServer("identity", port); // returns once the server printed its address
            var sw = Stopwatch.StartNew();
            Assert.IsTrue(Wait.Until(() => _client.State == ClientState.Connected, 10000),
                "no new handshake within 10 s; state " + _client.State + ", last failure " + _client.LastFailure);
            long ms = sw.ElapsedMilliseconds;
            Console.WriteLine("reliability: " + Kind + " transport handshook again " + ms + " ms after the restarted server was ready");
            Assert.LessOrEqual(ms, 2000, "reconnect + handshake took " + ms + " ms after the server was ready");
            Assert.AreEqual(1L, _client.Counters.Reconnects, "one new session after the restart");
            RoundTrip(_client, Image(9), 15000);
        }
    }

    [TestFixture]
    public class ManagedReliabilityTests : ReliabilityTestsBase
    {
        protected override TransportKind Kind { get { return TransportKind.Managed; } }
    }

    [TestFixture]
    public class NativeReliabilityTests : ReliabilityTestsBase
    {
        protected override TransportKind Kind { get { return TransportKind.Native; } }

        private string _dir;

        private static string[] GenerateKeys(string dir, string name)
        {
            var info = new ProcessStartInfo(TestEnvironment.Python,
                "-m sdbridge.cli keys generate --dir \"" + dir + "\" --name " + name)
            {
                UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
            };
            using (Process p = Process.Start(info))
            {
                string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
                Assert.IsTrue(p.WaitForExit(60000), "sdbridge keys generate did not finish");
                Assert.AreEqual(0, p.ExitCode, "sdbridge keys generate failed:\n" + output);
            }
            return ReadCertificate(Path.Combine(dir, name + ".key_secret"));
        }

        /// <summary>(public, secret) Z85 keys from a ZeroMQ secret certificate file.</summary>
        private static string[] ReadCertificate(string path)
        {
            string pub = null, sec = null;
            foreach (string raw in File.ReadAllLines(path))
            {
                string line = raw.Trim();
                int q = line.IndexOf('"');
                if (q < 0 || line.LastIndexOf('"') <= q) continue;
                string value = line.Substring(q + 1, line.LastIndexOf('"') - q - 1);
                if (line.StartsWith("public-key", StringComparison.Ordinal)) pub = value;
                else if (line.StartsWith("secret-key", StringComparison.Ordinal)) sec = value;
            }
            Assert.IsNotNull(pub, "no public-key in " + path);
            return new[] { pub, sec };
        }

        [TearDown]
        public void RemoveKeys()
        {
            if (_dir != null && Directory.Exists(_dir)) Directory.Delete(_dir, true);
            _dir = null;
        }

        [Test, Timeout(180000)]
        public void CurveZmqServesAllowListedKeysAndRefusesOthers()
        {
            _dir = Path.Combine(Path.GetTempPath(), "sdbridge-curve-" + Guid.NewGuid().ToString("N"));
            string[] server = GenerateKeys(_dir, "server");
            string[] allowed = GenerateKeys(Path.Combine(_dir, "clients"), "unity");
            string[] stranger = GenerateKeys(Path.Combine(_dir, "others"), "stranger");
            using (var curveServer = new ChildProcess(TestEnvironment.Python,
                "-m sdbridge.cli serve --model identity --bind tcp://127.0.0.1:0 --curve-secret-key \"" +
                Path.Combine(_dir, "server.key_secret") + "\" --authorized-keys \"" + Path.Combine(_dir, "clients") + "\"",
                120000))
            {
                string endpoint = "tcp://127.0.0.1:" + curveServer.Port;
                using (var client = new BridgeClient(new BridgeClientOptions
                {
                    Endpoint = endpoint, Transport = TransportKind.Native, ClientName = "csharp-curve",
                    TransportOptions = new TransportOptions
                    {
                        CurveServerKey = server[0], CurvePublicKey = allowed[0], CurveSecretKey = allowed[1],
                    },
                }))
                {
                    client.Connect(15000);
                    for (int i = 0; i < 3; i++) RoundTrip(client, Image(i), 15000);
                }
                using (var client = new BridgeClient(new BridgeClientOptions
                {
                    Endpoint = endpoint, Transport = TransportKind.Native, ClientName = "csharp-stranger",
                    HandshakeTimeoutMs = 1500, AutoReconnect = false,
                    TransportOptions = new TransportOptions
                    {
                        CurveServerKey = server[0], CurvePublicKey = stranger[0], CurveSecretKey = stranger[1],
                    },
                }))
                {
                    Assert.Catch<Exception>(() => client.Connect(3000), "a key not on the server's list must not get a session");
                    Assert.AreNotEqual(ClientState.Connected, client.State);
                }
                StringAssert.DoesNotContain("session 1 opened for 'csharp-stranger'", curveServer.Log);
                StringAssert.Contains("'csharp-curve'", curveServer.Log, "the allowed client got a session");
            }
        }
    }
}
