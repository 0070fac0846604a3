// End to end against the real Python server (`python -m sdbridge.cli serve --model tiny`), over both
// transports: handshake, 50 frames with ids echoed, prompt/params/event/state/stats, a server restart with
// the client reconnecting (new handshake, new session), a major-version mismatch reported clearly, and no
// allocations per frame in steady state. Every wait has a deadline.
// Compiled and run here with mono + NUnit 2.6; uses only NUnit API that Unity's NUnit 3.5 also has
// ([TestFixtureSetUp]/[TestFixtureTearDown] are deprecated in NUnit 3 but still present in 3.5).
using System;
using System.Diagnostics;
using System.Threading;
using NUnit.Framework;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Protocol;
using StreamDiffusion.Bridge.Core.Transport;

namespace StreamDiffusion.Bridge.Core.Tests
{
    public abstract class EndToEndTestsBase
    {
        private const int Size = 64;
        private ChildProcess _server;
        private BridgeClient _client;

        protected abstract TransportKind Kind { get; }

        [TestFixtureSetUp]
        public void StartServer()
        {
            if (string.IsNullOrEmpty(TestEnvironment.Python)) return; // each test reports the missing dependency
            _server = ChildProcess.StartServer("tiny", 0);
        }

        [TestFixtureTearDown]
        public void StopServer()
        {
            if (_server != null) _server.Dispose();
            _server = null;
        }

        [SetUp]
        public void NeedServer()
        {
            TestEnvironment.NeedPythonTools();
            if (Kind == TransportKind.Native) TestEnvironment.NeedNativeZmq();
            if (_server == null || _server.HasExited) _server = ChildProcess.StartServer("tiny", 0);
        }

        [TearDown]
        public void CloseClient()
        {
            if (_client != null) _client.Dispose();
            _client = null;
        }

        private BridgeClient NewClient(Action<BridgeClientOptions> configure)
        {
            var options = new BridgeClientOptions
            {
                Endpoint = "tcp://127.0.0.1:" + _server.Port,
                Transport = Kind,
                ClientName = "csharp-e2e-" + Kind,
                ReconnectDelayMs = 100,
                ReconnectMaxDelayMs = 500,
                TransportOptions = new TransportOptions { HeartbeatIntervalMs = 200, HeartbeatTimeoutMs = 2000, ConnectTimeoutMs = 1000 },
            };
            if (configure != null) configure(options);
            _client = new BridgeClient(options);
            return _client;
        }

        private static byte[] Image(int seed) { return LiveRoundTrips.Image(Size, seed); }

        /// <summary>Submits one frame and waits for the result that echoes its id.</summary>
        private static ResultFrame RoundTrip(BridgeClient client, byte[] pixels, ref ResultFrame frame, int timeoutMs)
        {
            return LiveRoundTrips.RoundTrip(client, pixels, FrameDescription.Rgba8(Size, Size, RowOrder.BottomUp),
                ref frame, timeoutMs);
        }

        [Test, Timeout(120000)]
        public void FramesWithPlanesAreServedAndANanDepthIsRefusedByName()  // protocol 1.3
        {
            BridgeClient client = NewClient(null);
            WelcomeMessage welcome = client.Connect(15000);
            Assert.AreNotEqual(0u, welcome.Capabilities & (uint)Capability.Planes, "the server offers Planes");
            PlaneDescription depth = PlaneDescription.Packed(PlaneKind.Depth, PlaneFormat.R32F, Size / 2, Size / 2);
            depth.DepthEncoding = DepthEncoding.Device;
            depth.ReversedZ = true;
            depth.DepthNear = 0.1f;
            var values = new float[Size / 2 * Size / 2];
            for (int i = 0; i < values.Length; i++) values[i] = 0.5f;
            var bytes = new byte[values.Length * 4];
            Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
            byte[] px = Image(5);
            var d = FrameDescription.Rgba8(Size, Size, RowOrder.BottomUp);
            ResultFrame frame = null;
            ulong id = client.SubmitFrame(px, 0, px.Length, d, new[] { new PlaneData(depth, bytes) });
            var sw = Stopwatch.StartNew();
            while (sw.ElapsedMilliseconds < 60000 && !(client.TryGetResult(ref frame) && frame.Header.FrameId == id))
            {
                Thread.Sleep(1);
            }
            Assert.AreEqual(id, frame == null ? 0UL : frame.Header.FrameId, "events: " + LiveRoundTrips.DrainEvents(client));

            Buffer.BlockCopy(new[] { float.NaN }, 0, bytes, 12, 4);
            client.SubmitFrame(px, 0, px.Length, d, new[] { new PlaneData(depth, bytes) });
            ClientEvent refused = null;
            sw.Restart();
            while (refused == null && sw.ElapsedMilliseconds < 30000)
            {
                ClientEvent e;
                if (client.TryDequeueEvent(out e) && e.Kind == ClientEventKind.ServerError && e.Error != null) refused = e;
                else Thread.Sleep(1);
            }
            Assert.IsNotNull(refused, "no Error for a NaN depth");
            Assert.AreEqual("Frame.planes[0]", refused.Error.Field, refused.Message);
            RoundTrip(client, Image(6), ref frame, 60000);  // the session stays up
        }

        [Test, Timeout(120000)]
        public void Txt2imgStreamsGeneratedFramesAndCfgModeChanges()  // protocol 1.2
        {
            BridgeClient client = NewClient(null);
            WelcomeMessage welcome = client.Connect(15000);
            Assert.AreNotEqual(0u, welcome.Capabilities & (uint)Capability.Txt2img, "the server offers Txt2img");
            client.SetPrompt("a lighthouse at dusk");
            client.SetParams(new ParamsMessage { CfgMode = CfgMode.Self, Txt2img = true });
            ResultFrame frame = null;
            ulong last = 0;
            int seen = 0;
            var sw = Stopwatch.StartNew();
            while (seen < 4 && sw.ElapsedMilliseconds < 60000)  // no frame is submitted: every result is generated
            {
                if (client.TryGetResult(ref frame) && frame.Header.FrameId > last)
                {
                    last = frame.Header.FrameId;
                    seen++;
                    Assert.AreEqual((uint)Size, frame.Header.Width);
                    Assert.AreEqual(PixelFormat.RGBA8, frame.Header.PixelFormat);
                }
                Thread.Sleep(1);
            }
            Assert.AreEqual(4, seen, "generated results within 60 s; events: " + LiveRoundTrips.DrainEvents(client));
            Assert.AreEqual(0L, client.Counters.FramesSent, "txt2img sends no frame");
            client.SetParams(new ParamsMessage { Txt2img = false, CfgMode = CfgMode.None });
            RoundTrip(client, Image(3), ref frame, 30000);  // frames flow again once txt2img is off
        }

        [Test, Timeout(120000)]
        public void HandshakeFiftyFramesAndControlMessages()
        {
            BridgeClient client = NewClient(null);
            WelcomeMessage welcome = client.Connect(15000);
            Assert.AreEqual(ClientState.Connected, client.State);
            Assert.AreEqual(ProtocolVersion.Major, welcome.ProtocolMajor);
            Assert.Greater(welcome.InitialCredits, 0u);
            Assert.AreNotEqual(0UL, welcome.SessionId);
            Assert.IsNotNull(welcome.Model);
            Assert.AreEqual("tiny", welcome.Model.Name);

            ResultFrame frame = null;
            ulong previous = 0;
            for (int i = 0; i < 50; i++)
            {
                if (i == 20) client.SetPrompt("a watercolor castle", "blurry");
                if (i == 25) client.SetParams(new ParamsMessage { GuidanceScale = 1.0f, Seed = 7 });
                if (i == 30) client.SendGameEvent("enter_zone", KeyValueData.Of("biome", "forest"), KeyValueData.Of("danger", 3L));
                if (i == 35) client.SetState(KeyValueData.Of("time_of_day", "night"));
                RoundTrip(client, Image(i), ref frame, 30000);
                Assert.Greater(frame.Header.FrameId, previous);
                previous = frame.Header.FrameId;
                Assert.AreEqual((uint)Size, frame.Header.Width);
                Assert.AreEqual((uint)Size, frame.Header.Height);
                Assert.AreEqual(PixelFormat.RGBA8, frame.Header.PixelFormat);
                Assert.AreEqual(RowOrder.BottomUp, frame.Header.RowOrder, "results come back in the client's row order");
                Assert.AreEqual(Size * Size * 4, frame.Length);
                Assert.AreEqual(welcome.SessionId, frame.Header.SessionId);
                Assert.GreaterOrEqual(frame.RoundTripUs, 0L);
            }
            ClientCounters c = client.Counters;
            Assert.AreEqual(50L, c.FramesSent);
            Assert.AreEqual(50L, c.ResultsReceived);
            Assert.AreEqual(0L, c.ServerErrors, LiveRoundTrips.DrainEvents(client));

            uint request = client.RequestStats();
            Assert.IsTrue(Wait.Until(() => client.LastStats != null && client.LastStats.RequestId == request, 10000),
                "no Stats reply; events: " + LiveRoundTrips.DrainEvents(client));
            Assert.AreEqual(welcome.SessionId, client.LastStats.SessionId);
            Assert.GreaterOrEqual(client.LastStats.FramesOut, 50UL);
        }

        [Test, Timeout(120000)]
        public void LatestFrameWinsWhileWaitingForCredit()
        {
            BridgeClient client = NewClient(null);
            WelcomeMessage welcome = client.Connect(15000);
            var desc = FrameDescription.Rgba8(Size, Size, RowOrder.BottomUp);
            ulong last = 0;
            for (int i = 0; i < 30; i++)
            {
                byte[] px = Image(i);
                last = client.SubmitFrame(px, 0, px.Length, desc); // no waiting: credits run out at once
            }
            ResultFrame frame = null;
            var sw = Stopwatch.StartNew();
            while (sw.ElapsedMilliseconds < 60000)
            {
                if (client.WaitForResult(100) && client.TryGetResult(ref frame) && frame.Header.FrameId == last) break;
            }
            Assert.IsNotNull(frame);
            Assert.AreEqual(last, frame.Header.FrameId, "the newest frame must be processed in the end");
            ClientCounters c = client.Counters;
            Assert.AreEqual(30L, c.FramesSubmitted);
            Assert.AreEqual(30L, c.FramesSent + c.FramesReplaced, "every frame is either sent or replaced");
            Assert.Greater(c.FramesReplaced, 0L, "with " + welcome.InitialCredits + " credits most frames wait and get replaced");
            Assert.LessOrEqual(c.FramesSent - c.ResultsReceived - c.CreditsReturned, 0L, "no frame in flight is lost");
            Assert.AreEqual(0L, c.ServerErrors,
                "sending only with credit means no NoCredit errors: " + LiveRoundTrips.DrainEvents(client));
        }

        [Test, Timeout(180000)]
        public void ReconnectsWithANewHandshakeAfterServerRestart()
        {
            BridgeClient client = NewClient(o => o.ServerSilenceTimeoutMs = 2000);
            WelcomeMessage first = client.Connect(15000);
            client.SetPrompt("a neon city");
            ResultFrame frame = null;
            for (int i = 0; i < 3; i++) RoundTrip(client, Image(i), ref frame, 30000);

            int port = _server.Port;
            _server.Kill();
            _server.Dispose();
            _server = null;
            // Frames submitted while the server is down must not block the caller.
            byte[] px = Image(99);
            for (int i = 0; i < 20; i++)
            {
                client.SubmitFrame(px, 0, px.Length, FrameDescription.Rgba8(Size, Size, RowOrder.BottomUp));
                Thread.Sleep(20);
            }
            Assert.IsTrue(Wait.Until(() => client.State == ClientState.Reconnecting, 15000),
                "client did not notice the dead server; state " + client.State);

            _server = ChildProcess.StartServer("tiny", port);
            Assert.IsTrue(Wait.Until(() => client.State == ClientState.Connected, 60000),
                "client did not reconnect; state " + client.State + ", last failure " + client.LastFailure);
            Assert.AreNotEqual(first.SessionId, client.Welcome.SessionId, "a reconnect opens a new session");
            Assert.AreEqual(1L, client.Counters.Reconnects);
            for (int i = 0; i < 5; i++) RoundTrip(client, Image(i), ref frame, 30000);
            Assert.AreEqual(client.Welcome.SessionId, frame.Header.SessionId);
        }

        [Test, Timeout(60000)]
        public void MajorVersionMismatchIsReportedClearly()
        {
            ushort major = (ushort)(ProtocolVersion.Major + 1);
            BridgeClient client = NewClient(o => o.ProtocolMajor = major);
            var e = Assert.Throws<VersionMismatchException>(() => client.Connect(15000));
            StringAssert.Contains(major + ".", e.Message, "names the client's version");
            StringAssert.Contains(ProtocolVersion.Major + ".", e.Message, "names the server's version");
            StringAssert.Contains("install", e.Message.ToLowerInvariant(), "says what to install");
            Assert.AreEqual(ClientState.Failed, client.State);
            Assert.AreSame(e, client.LastFailure);
        }

        [Test, Timeout(120000)]
        public void SteadyStateAllocatesNothingPerFrame()
        {
            TestEnvironment.Need(Allocations.Supported, "GC.GetAllocatedBytesForCurrentThread");
            BridgeClient client = NewClient(null);
            client.Connect(15000);
            byte[] px = Image(1);
            ResultFrame frame = null;
            for (int i = 0; i < 20; i++) RoundTrip(client, px, ref frame, 30000);

            var desc = FrameDescription.Rgba8(Size, Size, RowOrder.BottomUp);
            var sw = Stopwatch.StartNew(); // created before the measurement: a Stopwatch is 40 bytes
            long ioBefore = client.Counters.IoThreadAllocatedBytes;
            long callerBefore = Allocations.CurrentThread();
            int results = 0;
            while (results < 40 && sw.ElapsedMilliseconds < 60000)
            {
                ulong id = client.SubmitFrame(px, 0, px.Length, desc);
                while (sw.ElapsedMilliseconds < 60000)
                {
                    if (client.TryGetResult(ref frame) && frame.Header.FrameId == id)
                    {
                        results++;
                        break;
                    }
                    Thread.Sleep(1);
                }
            }
            long callerBytes = Allocations.CurrentThread() - callerBefore;
            long ioBytes = client.Counters.IoThreadAllocatedBytes - ioBefore;
            Assert.AreEqual(40, results);
            Assert.AreEqual(0L, callerBytes, "bytes allocated on the caller thread by 40 SubmitFrame/TryGetResult");
            Assert.AreEqual(0L, ioBytes, "bytes allocated on the client's I/O thread during 40 round trips");
        }
    }

    [TestFixture]
    public class ManagedEndToEndTests : EndToEndTestsBase
    {
        protected override TransportKind Kind { get { return TransportKind.Managed; } }
    }

    [TestFixture]
    public class NativeEndToEndTests : EndToEndTestsBase
    {
        protected override TransportKind Kind { get { return TransportKind.Native; } }
    }
}
