// BridgeClient behaviour that needs no server: argument checks with clear messages, connect failures,
// the control-queue limit, and clean disposal.
// Compiled and run here with mono + NUnit 2.6; uses only NUnit API that Unity's NUnit 3.5 also has.
using System;
using NUnit.Framework;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Protocol;
using StreamDiffusion.Bridge.Core.Transport;

namespace StreamDiffusion.Bridge.Core.Tests
{
    [TestFixture]
    public class ClientTests
    {
        private static int FreePort()
        {
            var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            l.Start();
            int port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            return port;
        }

        [Test]
        public void SubmitChecksTheImageSizeAndNamesTheNumbers()
        {
            using (var client = new BridgeClient(new BridgeClientOptions()))
            {
                var px = new byte[10 * 10 * 4];
                var e = Assert.Throws<ArgumentException>(() =>
                    client.SubmitFrame(px, 0, px.Length - 1, FrameDescription.Rgba8(10, 10, RowOrder.BottomUp)));
                StringAssert.Contains("399", e.Message);
                StringAssert.Contains("400", e.Message);
                Assert.Throws<ArgumentOutOfRangeException>(() =>
                    client.SubmitFrame(px, 0, px.Length, FrameDescription.Rgba8(0, 10, RowOrder.BottomUp)));
                var noRows = FrameDescription.Rgba8(10, 10, RowOrder.Unknown);
                e = Assert.Throws<ArgumentException>(() => client.SubmitFrame(px, 0, px.Length, noRows));
                StringAssert.Contains("RowOrder", e.Message);
                Assert.Throws<ArgumentOutOfRangeException>(() =>
                    client.SubmitFrame(px, 8, px.Length, FrameDescription.Rgba8(10, 10, RowOrder.BottomUp)));
            }
        }

        [Test]
        public void SubmitChecksEachPlaneAndNamesIt()  // protocol 1.3
        {
            using (var client = new BridgeClient(new BridgeClientOptions()))
            {
                var px = new byte[4 * 2 * 4];
                var d = FrameDescription.Rgba8(4, 2, RowOrder.TopDown);
                PlaneDescription depth = PlaneDescription.Packed(PlaneKind.Depth, PlaneFormat.R32F, 2, 1);
                var ok = new PlaneData(depth, new byte[8]);
                var shortBytes = new PlaneData(depth, new byte[7]);
                var e = Assert.Throws<ArgumentException>(() => client.SubmitFrame(px, 0, px.Length, d, new[] { ok, shortBytes }));
                StringAssert.Contains("planes[1]", e.Message);
                StringAssert.Contains("8 bytes", e.Message);
                PlaneDescription narrow = PlaneDescription.Packed(PlaneKind.Motion, PlaneFormat.RG16F, 4, 2);
                narrow.Stride = 15;
                e = Assert.Throws<ArgumentException>(() =>
                    client.SubmitFrame(px, 0, px.Length, d, new[] { new PlaneData(narrow, new byte[64]) }));
                StringAssert.Contains("stride >= 16", e.Message);
                Assert.AreEqual(0L, client.Counters.FramesSubmitted, "refused frames are not submitted");
                client.SubmitFrame(px, 0, px.Length, d, new[] { ok });
                Assert.AreEqual(1L, client.Counters.FramesSubmitted);
                Assert.IsTrue((new BridgeClientOptions().Capabilities & (uint)Capability.Planes) != 0, "offered in Hello");
            }
        }

        [Test]
        public void SubmitWithoutConnectionKeepsOnlyTheNewestFrame()
        {
            using (var client = new BridgeClient(new BridgeClientOptions()))
            {
                var px = new byte[4 * 4 * 4];
                var d = FrameDescription.Rgba8(4, 4, RowOrder.TopDown);
                ulong a = client.SubmitFrame(px, 0, px.Length, d);
                ulong b = client.SubmitFrame(px, 0, px.Length, d);
                Assert.AreEqual(a + 1, b);
                Assert.IsTrue(client.HasPendingFrame);
                Assert.AreEqual(2L, client.Counters.FramesSubmitted);
                Assert.AreEqual(1L, client.Counters.FramesReplaced);
                ResultFrame r = null;
                Assert.IsFalse(client.TryGetResult(ref r));
                Assert.IsNull(r);
                Assert.IsFalse(client.WaitForResult(10));
            }
        }

        [Test, Timeout(30000)]
        public void ConnectToNothingTimesOutNamingTheEndpoint()
        {
            int port = FreePort();
            var options = new BridgeClientOptions
            {
                Endpoint = "tcp://127.0.0.1:" + port,
                TransportOptions = new TransportOptions { ConnectTimeoutMs = 200 },
                ReconnectDelayMs = 50,
            };
            using (var client = new BridgeClient(options))
            {
                var e = Assert.Throws<TransportException>(() => client.Connect(1000));
                StringAssert.Contains(port.ToString(), e.Message);
                StringAssert.Contains("sdbridge serve", e.Message);
                Assert.AreNotEqual(ClientState.Connected, client.State);
            }
        }

        [Test]
        public void ControlQueueIsBoundedAndDropsTheOldestWithOneWarning()
        {
            var options = new BridgeClientOptions { MaxQueuedControlMessages = 3 };
            using (var client = new BridgeClient(options))
            {
                client.SendGameEvent("a");
                client.SendGameEvent("b");
                client.SetState(KeyValueData.Of("k", 1L));
                Assert.AreEqual(0L, client.Counters.ControlMessagesDropped);
                client.SendGameEvent("d");
                client.SendGameEvent("e");
                Assert.AreEqual(2L, client.Counters.ControlMessagesDropped);
                ClientEvent ev;
                Assert.IsTrue(client.TryDequeueEvent(out ev));
                Assert.AreEqual(ClientEventKind.Warning, ev.Kind);
                StringAssert.Contains("MaxQueuedControlMessages = 3", ev.Message);
                Assert.IsFalse(client.TryDequeueEvent(out ev), "reported once per outage");
                Assert.Throws<ArgumentException>(() => client.SetParams(new ParamsMessage()));
                Assert.Throws<ArgumentException>(() => client.SendGameEvent(""));
            }
        }

        [Test]
        public void DisposeIsIdempotentAndFinal()
        {
            var client = new BridgeClient(new BridgeClientOptions { Endpoint = "tcp://127.0.0.1:" + FreePort() });
            client.Start();
            client.Dispose();
            client.Dispose();
            Assert.AreEqual(ClientState.Closed, client.State);
            Assert.Throws<ObjectDisposedException>(() => client.Start());
        }

        [Test]
        public void ClockIsMonotonicMicroseconds()
        {
            ulong a = BridgeClient.NowUs();
            System.Threading.Thread.Sleep(20);
            ulong b = BridgeClient.NowUs();
            Assert.Greater(b, a + 10000UL);
            Assert.Less(b, a + 5000000UL);
            // Unix epoch microseconds: after 2020-01-01.
            Assert.Greater(a, 1577836800UL * 1000000UL);
        }
    }
}
