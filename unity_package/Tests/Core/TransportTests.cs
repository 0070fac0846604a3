// Both transports against a real libzmq ROUTER (pyzmq, unity_package/Tests~/Tools/zmq_router_peer.py):
// multipart, short/long frames, identity, heartbeats both ways, peer loss. Every receive has a timeout.
// Compiled and run here with mono + NUnit 2.6; uses only NUnit API that Unity's NUnit 3.5 also has.
using System;
using System.Text;
using System.Threading;
using NUnit.Framework;
using StreamDiffusion.Bridge.Core.Transport;

namespace StreamDiffusion.Bridge.Core.Tests
{
    public abstract class TransportTestsBase
    {
        private ChildProcess _peer;
        private ITransport _transport;
        private readonly MultipartMessage _msg = new MultipartMessage();

        protected abstract TransportKind Kind { get; }

        [TearDown]
        public void TearDown()
        {
            if (_transport != null) _transport.Dispose();
            _transport = null;
            if (_peer != null) _peer.Dispose();
            _peer = null;
        }

        private ITransport Open(string peerArgs, TransportOptions options)
        {
            TestEnvironment.NeedPythonTools();
            if (Kind == TransportKind.Native) TestEnvironment.NeedNativeZmq();
            _peer = ChildProcess.StartTool("zmq_router_peer.py", peerArgs);
            _transport = TransportFactory.Create(Kind, options ?? new TransportOptions());
            _transport.Connect("tcp://127.0.0.1:" + _peer.Port);
            return _transport;
        }

        private void Receive(ITransport t, int timeoutMs)
        {
            Assert.IsTrue(t.TryReceive(_msg, timeoutMs), "no reply within " + timeoutMs + " ms; peer log:\n" + _peer.Log);
        }

        private static ArraySegment<byte> Seg(byte[] b)
        {
            return new ArraySegment<byte>(b);
        }

        private static byte[] Pattern(int n, int seed)
        {
            var b = new byte[n];
            for (int i = 0; i < n; i++) b[i] = (byte)(i * 31 + seed);
            return b;
        }

        [Test, Timeout(30000)]
        public void EchoesOneAndTwoPartMessagesWithShortAndLongFrames()
        {
            ITransport t = Open("", null);
            t.Send(Seg(Encoding.ASCII.GetBytes("ECHO")));
            Receive(t, 5000);
            Assert.AreEqual(1, _msg.Count);
            Assert.AreEqual("ECHO", Encoding.ASCII.GetString(_msg.ToArray(0)));

            foreach (int size in new[] { 0, 1, 255, 256, 300, 65535, 70000, 512 * 512 * 4 })
            {
                byte[] header = Pattern(size % 1000 + 4, 1);
                header[0] = (byte)'E'; header[1] = (byte)'C'; header[2] = (byte)'H'; header[3] = (byte)'O';
                byte[] pixels = Pattern(size, size);
                t.Send(Seg(header), Seg(pixels));
                Receive(t, 5000);
                Assert.AreEqual(2, _msg.Count, "parts for size " + size);
                Assert.AreEqual(header, _msg.ToArray(0), "header for size " + size);
                Assert.AreEqual(pixels, _msg.ToArray(1), "pixels for size " + size);
            }
        }

        [Test, Timeout(30000)]
        public void SendsAFrameWithPlanesAsOneMessageOfManyParts()  // protocol 1.3: header, pixels, planes
        {
            ITransport t = Open("", null);
            byte[] header = Encoding.ASCII.GetBytes("ECHO-planes");
            byte[] backing = Pattern(70000, 5);
            var parts = new[]
            {
                Seg(header), Seg(Pattern(300, 1)), new ArraySegment<byte>(backing, 17, 65000), Seg(new byte[0]),
                Seg(Pattern(9, 2)),
            };
            t.Send(parts, 4);  // the fifth segment is not part of the message
            Receive(t, 5000);
            Assert.AreEqual(4, _msg.Count);
            Assert.AreEqual(header, _msg.ToArray(0));
            Assert.AreEqual(Pattern(300, 1), _msg.ToArray(1));
            var expected = new byte[65000];
            Array.Copy(backing, 17, expected, 0, 65000);
            Assert.AreEqual(expected, _msg.ToArray(2));
            Assert.AreEqual(0, _msg.ToArray(3).Length);
        }

        [Test, Timeout(30000)]
        public void LargeFirstPartAndOffsetSegments()
        {
            ITransport t = Open("", null);
            byte[] big = Pattern(100000, 3);
            big[0] = (byte)'E';
            byte[] backing = Pattern(5000, 9);
            t.Send(Seg(big), new ArraySegment<byte>(backing, 1000, 3000));
            Receive(t, 5000);
            Assert.AreEqual(big, _msg.ToArray(0));
            var expected = new byte[3000];
            Array.Copy(backing, 1000, expected, 0, 3000);
            Assert.AreEqual(expected, _msg.ToArray(1));
        }

        [Test, Timeout(30000)]
        public void ManyMessagesInFlightArriveInOrder()
        {
            ITransport t = Open("", null);
            byte[] pixels = Pattern(64 * 64 * 4, 5);
            var header = new byte[8];
            for (int i = 0; i < 200; i++)
            {
                BitConverter.GetBytes(i).CopyTo(header, 0);
                t.Send(Seg(header), Seg(pixels));
            }
            for (int i = 0; i < 200; i++)
            {
                Receive(t, 5000);
                Assert.AreEqual(i, BitConverter.ToInt32(_msg.Buffer(0), 0));
                Assert.AreEqual(pixels.Length, _msg.Length(1));
            }
        }

        [Test, Timeout(30000)]
        public void IdentityIsSentToTheRouter()
        {
            var options = new TransportOptions { Identity = Encoding.ASCII.GetBytes("unity-editor-7") };
            ITransport t = Open("", options);
            t.Send(Seg(Encoding.ASCII.GetBytes("WHOAMI")));
            Receive(t, 5000);
            Assert.AreEqual("unity-editor-7", Encoding.ASCII.GetString(_msg.ToArray(0)));
        }

        [Test, Timeout(30000)]
        public void ReceiveTimesOutWithoutTraffic()
        {
            ITransport t = Open("", null);
            Assert.IsFalse(t.TryReceive(_msg, 50));
            Assert.IsTrue(t.IsConnected);
        }

        [Test, Timeout(30000)]
        public void AnswersRouterPingsWhileIdle()
        {
            // The ROUTER pings every 100 ms and drops us after 300 ms without traffic. Our own PINGs are
            // off, so only our PONGs keep the connection: after 1.5 s idle the echo must still work.
            var options = new TransportOptions { HeartbeatIntervalMs = 0, HeartbeatTimeoutMs = 5000 };
            ITransport t = Open("--heartbeat-ms 100", options);
            var sw = System.Diagnostics.Stopwatch.StartNew();
            while (sw.ElapsedMilliseconds < 1500) Assert.IsFalse(t.TryReceive(_msg, 50));
            t.Send(Seg(Encoding.ASCII.GetBytes("ECHO")));
            Receive(t, 5000);
            Assert.AreEqual("ECHO", Encoding.ASCII.GetString(_msg.ToArray(0)));
        }

        [Test, Timeout(30000)]
        public void OwnPingsKeepASilentConnectionAlive()
        {
            // The router stays silent for 1.5 s; with a 400 ms heartbeat timeout the connection survives only
            // if our PINGs are answered by libzmq PONGs (which count as traffic).
            var options = new TransportOptions { HeartbeatIntervalMs = 100, HeartbeatTimeoutMs = 400 };
            ITransport t = Open("", options);
            t.Send(Seg(Encoding.ASCII.GetBytes("SILENCE 1500")));
            Receive(t, 5000);
            Assert.AreEqual("AWAKE", Encoding.ASCII.GetString(_msg.ToArray(0)));
        }

        [Test, Timeout(30000)]
        public void PeerLossIsReportedAsTransportException()
        {
            var options = new TransportOptions { HeartbeatIntervalMs = 100, HeartbeatTimeoutMs = 500 };
            ITransport t = Open("", options);
            _peer.Kill();
            TransportException error = null;
            var sw = System.Diagnostics.Stopwatch.StartNew();
            while (error == null && sw.ElapsedMilliseconds < 10000)
            {
                try
                {
                    t.TryReceive(_msg, 50);
                }
                catch (TransportException e)
                {
                    error = e;
                }
            }
            Assert.IsNotNull(error, "a dead peer must surface as TransportException");
            Assert.IsFalse(t.IsConnected);
            Assert.Throws<TransportException>(() => t.Send(Seg(new byte[1])));
        }

        [Test, Timeout(30000)]
        public void ConnectToAClosedPortFails()
        {
            TestEnvironment.NeedPythonTools();
            if (Kind == TransportKind.Native) TestEnvironment.NeedNativeZmq();
            int port;
            var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            l.Start();
            port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            var options = new TransportOptions { ConnectTimeoutMs = 500 };
            _transport = TransportFactory.Create(Kind, options);
            var e = Assert.Throws<TransportException>(() => _transport.Connect("tcp://127.0.0.1:" + port));
            StringAssert.Contains(port.ToString(), e.Message);
        }
    }

    [TestFixture]
    public class ManagedTransportTests : TransportTestsBase
    {
        protected override TransportKind Kind { get { return TransportKind.Managed; } }

        [Test]
        public void ManagedRefusesCurveKeys()
        {
            var options = new TransportOptions { CurveServerKey = new string('a', 40) };
            Assert.Throws<ArgumentException>(() => new ManagedZmqTransport(options));
        }
    }

    [TestFixture]
    public class NativeTransportTests : TransportTestsBase
    {
        protected override TransportKind Kind { get { return TransportKind.Native; } }

        [Test, Timeout(30000)]
        public void CurveZmqEncryptsTheConnection()
        {
            TestEnvironment.NeedPythonTools();
            TestEnvironment.NeedNativeZmq();
            using (ChildProcess peer = ChildProcess.StartTool("zmq_router_peer.py", "--curve"))
            {
                string line = null;
                foreach (string l in peer.Log.Split('\n'))
                {
                    if (l.StartsWith("CURVE ", StringComparison.Ordinal)) line = l.Trim();
                }
                Assert.IsNotNull(line, "the peer printed no CURVE keys:\n" + peer.Log);
                string[] keys = line.Split(' ');
                var options = new TransportOptions
                {
                    CurveServerKey = keys[1], CurvePublicKey = keys[2], CurveSecretKey = keys[3],
                };
                using (ITransport t = new NativeZmqTransport(options))
                {
                    t.Connect("tcp://127.0.0.1:" + peer.Port);
                    t.Send(new ArraySegment<byte>(Encoding.ASCII.GetBytes("ECHO")), new ArraySegment<byte>(new byte[300000]));
                    var msg = new MultipartMessage();
                    Assert.IsTrue(t.TryReceive(msg, 5000), "no echo over CurveZMQ; peer log:\n" + peer.Log);
                    Assert.AreEqual(300000, msg.Length(1));
                }
                // The managed transport speaks only NULL: it must refuse, not hang, against a CURVE server.
                using (ITransport m = new ManagedZmqTransport(new TransportOptions { ConnectTimeoutMs = 2000 }))
                {
                    var e = Assert.Throws<TransportException>(() => m.Connect("tcp://127.0.0.1:" + peer.Port));
                    StringAssert.Contains("CURVE", e.Message);
                }
            }
        }

        [Test]
        public void CurveNeedsAllThreeKeys()
        {
            var options = new TransportOptions { CurveServerKey = new string('a', 40) };
            Assert.Throws<ArgumentException>(() => new NativeZmqTransport(options));
        }
    }
}
