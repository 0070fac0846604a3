// Unit tests of the ZMTP 3.1 byte helpers (no sockets).
// Compiled and run here with mono + NUnit 2.6; uses only NUnit API that Unity's NUnit 3.5 also has.
using System;
using System.Text;
using NUnit.Framework;
using StreamDiffusion.Bridge.Core.Transport;

namespace StreamDiffusion.Bridge.Core.Tests
{
    [TestFixture]
    public class ZmtpTests
    {
        [Test]
        public void GreetingHasSignatureVersionAndNullMechanism()
        {
            var g = new byte[64];
            for (int i = 0; i < g.Length; i++) g[i] = 0xAA;
            Zmtp.WriteGreeting(g);
            Assert.AreEqual(0xFF, g[0]);
            for (int i = 1; i <= 8; i++) Assert.AreEqual(0, g[i], "padding byte " + i);
            Assert.AreEqual(0x7F, g[9]);
            Assert.AreEqual(3, g[10]);
            Assert.AreEqual(1, g[11]);
            Assert.AreEqual("NULL", Encoding.ASCII.GetString(g, 12, 4));
            for (int i = 16; i < 64; i++) Assert.AreEqual(0, g[i], "byte " + i);
            Assert.AreEqual(1, Zmtp.ParseGreeting(g));
        }

        [Test]
        public void GreetingFromOldOrSecuredPeersIsRefused()
        {
            var g = new byte[64];
            Zmtp.WriteGreeting(g);
            g[10] = 2;
            Assert.Throws<TransportException>(() => Zmtp.ParseGreeting(g));
            Zmtp.WriteGreeting(g);
            Encoding.ASCII.GetBytes("CURVE", 0, 5, g, 12);
            var e = Assert.Throws<TransportException>(() => Zmtp.ParseGreeting(g));
            StringAssert.Contains("CURVE", e.Message);
            Zmtp.WriteGreeting(g);
            g[0] = 0x47; // "GET /" of an HTTP client
            Assert.Throws<TransportException>(() => Zmtp.ParseGreeting(g));
        }

        [Test]
        public void Zmtp30PeerReportsMinorZero()
        {
            var g = new byte[64];
            Zmtp.WriteGreeting(g);
            g[11] = 0;
            Assert.AreEqual(0, Zmtp.ParseGreeting(g));
        }

        [Test]
        public void ShortAndLongFrameHeaders()
        {
            var b = new byte[9];
            Assert.AreEqual(2, Zmtp.WriteFrameHeader(b, 0, 255, true, false));
            Assert.AreEqual(Zmtp.FlagMore, b[0]);
            Assert.AreEqual(255, b[1]);
            Assert.AreEqual(9, Zmtp.WriteFrameHeader(b, 0, 256, false, false));
            Assert.AreEqual(Zmtp.FlagLong, b[0]);
            Assert.AreEqual(256UL, Zmtp.ReadUInt64BigEndian(b, 1));
            Assert.AreEqual(new byte[] { 0, 0, 0, 0, 0, 0, 1, 0 }, Sub(b, 1, 8));
            Assert.AreEqual(9, Zmtp.WriteFrameHeader(b, 0, 0x0102030405L, true, true));
            Assert.AreEqual(Zmtp.FlagLong | Zmtp.FlagMore | Zmtp.FlagCommand, b[0]);
            Assert.AreEqual(new byte[] { 0, 0, 0, 1, 2, 3, 4, 5 }, Sub(b, 1, 8));
            Assert.AreEqual(9, Zmtp.HeaderLength(Zmtp.FlagLong));
            Assert.AreEqual(2, Zmtp.HeaderLength(Zmtp.FlagMore));
        }

        [Test]
        public void ReservedFlagBitsAndMoreOnCommandsAreRejected()
        {
            Assert.Throws<TransportException>(() => Zmtp.CheckFlags(0x08));
            Assert.Throws<TransportException>(() => Zmtp.CheckFlags(Zmtp.FlagCommand | Zmtp.FlagMore));
            Zmtp.CheckFlags(Zmtp.FlagCommand | Zmtp.FlagLong);
            Zmtp.CheckFlags(Zmtp.FlagMore | Zmtp.FlagLong);
        }

        [Test]
        public void ReadyCarriesSocketTypeAndIdentity()
        {
            byte[] id = Encoding.ASCII.GetBytes("unity-1");
            var b = new byte[Zmtp.ReadyBodySize("DEALER", id)];
            int n = Zmtp.WriteReadyBody(b, 0, "DEALER", id);
            Assert.AreEqual(b.Length, n);
            Assert.IsTrue(Zmtp.IsCommand(b, n, "READY"));
            Assert.AreEqual("READY", Zmtp.CommandName(b, n));
            Assert.AreEqual("DEALER", Encoding.ASCII.GetString(Zmtp.FindProperty(b, n, "Socket-Type")));
            Assert.AreEqual("unity-1", Encoding.ASCII.GetString(Zmtp.FindProperty(b, n, "identity")));
            Assert.IsNull(Zmtp.FindProperty(b, n, "Resource"));
            // Property value length is 4 bytes big-endian: "Socket-Type" value 6 bytes.
            Assert.AreEqual(new byte[] { 0, 0, 0, 6 }, Sub(b, 1 + 5 + 1 + 11, 4));
        }

        [Test]
        public void TruncatedReadyMetadataIsAnError()
        {
            var b = new byte[Zmtp.ReadyBodySize("DEALER", new byte[0])];
            int n = Zmtp.WriteReadyBody(b, 0, "DEALER", new byte[0]);
            Assert.Throws<TransportException>(() => Zmtp.FindProperty(b, n - 3, "Identity"));
        }

        [Test]
        public void PingAndPongBodies()
        {
            var b = new byte[32];
            byte[] ctx = { 9, 8, 7 };
            int n = Zmtp.WritePingBody(b, 0, 50, ctx, 3);
            Assert.AreEqual(1 + 4 + 2 + 3, n);
            Assert.IsTrue(Zmtp.IsCommand(b, n, "PING"));
            Assert.AreEqual(0, b[5]);
            Assert.AreEqual(50, b[6]);
            var pong = new byte[32];
            int m = Zmtp.WritePongBody(pong, 0, b, 7, 3);
            Assert.AreEqual(1 + 4 + 3, m);
            Assert.IsTrue(Zmtp.IsCommand(pong, m, "PONG"));
            Assert.AreEqual(ctx, Sub(pong, 5, 3));
            Assert.IsFalse(Zmtp.IsCommand(pong, m, "PING"));
        }

        [Test]
        public void EndpointParsing()
        {
            TcpEndpoint e = TcpEndpoint.Parse("tcp://127.0.0.1:5555");
            Assert.AreEqual("127.0.0.1", e.Host);
            Assert.AreEqual(5555, e.Port);
            Assert.AreEqual("::1", TcpEndpoint.Parse("tcp://[::1]:7").Host);
            Assert.Throws<ArgumentException>(() => TcpEndpoint.Parse("ipc:///tmp/x"));
            Assert.Throws<ArgumentException>(() => TcpEndpoint.Parse("tcp://host"));
            Assert.Throws<ArgumentException>(() => TcpEndpoint.Parse("tcp://host:0"));
            Assert.Throws<ArgumentException>(() => TcpEndpoint.Parse("tcp://host:70000"));
            Assert.Throws<ArgumentException>(() => TcpEndpoint.Parse("tcp://*:5555"));
        }

        [Test]
        public void MultipartMessageReusesBuffers()
        {
            var m = new MultipartMessage();
            byte[] a = m.AddPart(100);
            m.Clear();
            byte[] b = m.AddPart(90);
            Assert.AreSame(a, b);
            Assert.AreEqual(90, m.Length(0));
            Assert.AreEqual(1, m.Count);
            Assert.Throws<ArgumentOutOfRangeException>(() => m.Length(1));
            for (int i = 1; i < MultipartMessage.MaxParts; i++) m.AddPart(1);
            Assert.Throws<TransportException>(() => m.AddPart(1));
        }

        private static byte[] Sub(byte[] b, int offset, int count)
        {
            var r = new byte[count];
            Array.Copy(b, offset, r, 0, count);
            return r;
        }
    }
}
