// Codec behaviour beyond the goldens: hostile input never escapes as anything but ProtocolException, pixel
// size rules, and no allocation when encoding frames / decoding results.
// Compiled and run here with mono + NUnit 2.6; uses only NUnit API that Unity's NUnit 3.5 also has.
// The runtime's namespace differs between Debian's 2.0.8 build (FlatBuffers) and NuGet's (Google.FlatBuffers).
#if SDBRIDGE_FLATBUFFERS_NUGET
using FlatBufferByteBuffer = Google.FlatBuffers.ByteBuffer;
#else
using FlatBufferByteBuffer = FlatBuffers.ByteBuffer;
#endif
using System;
using NUnit.Framework;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Protocol;

namespace StreamDiffusion.Bridge.Core.Tests
{
    [TestFixture]
    public class CodecTests
    {
        private static byte[] Copy(ArraySegment<byte> s)
        {
            var b = new byte[s.Count];
            Array.Copy(s.Array, s.Offset, b, 0, s.Count);
            return b;
        }

        private static ResultHeader SampleResult()
        {
            return new ResultHeader
            {
                SessionId = 9, FrameId = 77, Width = 64, Height = 32, Stride = 256, PixelFormat = PixelFormat.RGBA8,
                RowOrder = RowOrder.BottomUp, ColorSpace = ColorSpace.SRGB, AlphaMode = AlphaMode.Ignore,
                InferenceUs = 1234, IsWarmup = true, SourceFrameId = 76, CreditsGranted = 1,
            };
        }

        [Test]
        public void ResultRoundTripsThroughAnOffsetSegment()
        {
            var codec = new BridgeCodec();
            ResultHeader h = SampleResult();
            byte[] encoded = Copy(codec.EncodeResult(ref h));
            var padded = new byte[encoded.Length + 100];
            Array.Copy(encoded, 0, padded, 40, encoded.Length);
            ResultHeader d;
            codec.DecodeResult(new ArraySegment<byte>(padded, 40, encoded.Length), out d);
            Assert.AreEqual(h, d);
        }

        [Test]
        public void WrongIdentifierTruncationAndGarbageAreProtocolErrors()
        {
            var codec = new BridgeCodec();
            ResultHeader h = SampleResult();
            byte[] good = Copy(codec.EncodeResult(ref h));

            byte[] wrongId = (byte[])good.Clone();
            wrongId[7] = (byte)'2';
            var e = Assert.Throws<ProtocolException>(() => codec.ReadType(new ArraySegment<byte>(wrongId)));
            Assert.AreEqual((int)ErrorCode.WrongIdentifier, e.Code);

            e = Assert.Throws<ProtocolException>(() => codec.ReadType(new ArraySegment<byte>(good, 0, 6)));
            Assert.AreEqual((int)ErrorCode.Truncated, e.Code);

            for (int cut = 8; cut < good.Length; cut += 3)
            {
                try
                {
                    ResultHeader d;
                    codec.DecodeResult(new ArraySegment<byte>(good, 0, cut), out d);
                }
                catch (ProtocolException)
                {
                    // expected for most cuts; no other exception type may escape
                }
            }

            var rng = new Random(1234);
            var junk = new byte[64];
            for (int i = 0; i < 3000; i++)
            {
                rng.NextBytes(junk);
                int n = rng.Next(0, junk.Length + 1);
                if (i % 2 == 0 && n >= 8)
                {
                    junk[4] = (byte)'S'; junk[5] = (byte)'D'; junk[6] = (byte)'B'; junk[7] = (byte)'1';
                }
                try
                {
                    codec.Decode(new ArraySegment<byte>(junk, 0, n));
                }
                catch (ProtocolException)
                {
                }
            }
        }

        [Test]
        public void UnknownBodyTypeIsNamed()
        {
            var codec = new BridgeCodec();
            byte[] good = Copy(codec.EncodeCredit(1));
            // Find the body_type byte (value 14 = Credit) through the generated accessor's offset and change it.
            var bb = new FlatBufferByteBuffer(good);
            Envelope env = Envelope.GetRootAsEnvelope(bb);
            Assert.AreEqual(Message.Credit, env.BodyType);
            int root = bb.GetInt(0);
            int vtable = root - bb.GetInt(root);
            int typeField = bb.GetShort(vtable + 4);
            good[root + typeField] = 200;
            var e = Assert.Throws<ProtocolException>(() => codec.ReadType(new ArraySegment<byte>(good)));
            Assert.AreEqual((int)ErrorCode.UnknownType, e.Code);
            StringAssert.Contains("200", e.Message);
        }

        [Test]
        public void PixelSizeRules()
        {
            Assert.AreEqual(16L * 2, BridgeCodec.ExpectedPixelBytes(4, 2, 16, PixelFormat.RGBA8));
            Assert.AreEqual(16L * 2, BridgeCodec.ExpectedPixelBytes(4, 2, 16, PixelFormat.RGB8));
            var e = Assert.Throws<ProtocolException>(() => BridgeCodec.ExpectedPixelBytes(5, 2, 16, PixelFormat.RGBA8));
            Assert.AreEqual((int)ErrorCode.BadDimension, e.Code);
            StringAssert.Contains("20", e.Message);
            e = Assert.Throws<ProtocolException>(() => BridgeCodec.ExpectedPixelBytes(0, 2, 16, PixelFormat.RGBA8));
            Assert.AreEqual((int)ErrorCode.BadDimension, e.Code);
            e = Assert.Throws<ProtocolException>(() => BridgeCodec.ExpectedPixelBytes(4, 2, 16, PixelFormat.Unknown));
            Assert.AreEqual((int)ErrorCode.UnsupportedPixelFormat, e.Code);
        }

        [Test]
        public void KeyValueWithoutAValueIsRefused()
        {
            var codec = new BridgeCodec();
            var m = new GameEventMessage { Name = "x" };
            m.Payload.Add(new KeyValueData { Key = "empty" });
            var e = Assert.Throws<ProtocolException>(() => codec.Encode(m));
            StringAssert.Contains("empty", e.Message);
        }

        [Test]
        public void FrameEncodeAndResultDecodeDoNotAllocate()
        {
            TestEnvironment.Need(Allocations.Supported, "GC.GetAllocatedBytesForCurrentThread (mono >= 6 / .NET Core)");
            var codec = new BridgeCodec();
            ResultHeader r = SampleResult();
            byte[] result = Copy(codec.EncodeResult(ref r));
            var seg = new ArraySegment<byte>(result);
            var frame = new FrameHeader { Width = 64, Height = 32, Stride = 256, PixelFormat = PixelFormat.RGBA8 };
            ResultHeader d;
            for (int i = 0; i < 100; i++)
            {
                frame.FrameId = (ulong)i;
                codec.EncodeFrame(ref frame);
                codec.DecodeResult(seg, out d);
            }
            long before = Allocations.CurrentThread();
            for (int i = 0; i < 1000; i++)
            {
                frame.FrameId = (ulong)i;
                codec.EncodeFrame(ref frame);
                codec.DecodeResult(seg, out d);
                codec.ReadType(seg);
            }
            long allocated = Allocations.CurrentThread() - before;
            Assert.AreEqual(0L, allocated, "bytes allocated by 1000 frame encodes + result decodes");
        }
    }
}
