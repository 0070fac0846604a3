// What every golden-bytes fixture shares (GoldenTests, GoldenV14Tests, PlaneGoldenTests): flatc's files
// (schemas/golden/*.bin, SDBRIDGE_TEST_GOLDEN), the byte-for-byte encode check, the typed decode, and the values
// more than one golden file carries (the session, the Frame header, the protocol 1.0 Welcome).
// Compiled and run here with mono + NUnit 2.6; uses only NUnit API that Unity's NUnit 3.5 also has.
using System;
using NUnit.Framework;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Protocol;

namespace StreamDiffusion.Bridge.Core.Tests
{
    /// <summary>Base of the golden-bytes fixtures: one codec per fixture and the checks and values they share.</summary>
    public abstract class GoldenFixture
    {
        /// <summary>The session id every golden message carries.</summary>
        protected const ulong Session = 0x0123456789ABCDEFUL;

        /// <summary>The codec under test.</summary>
        protected readonly BridgeCodec _codec = new BridgeCodec();

        /// <summary>The bytes of schemas/golden/<paramref name="name"/>.</summary>
        protected static byte[] Golden(string name) { return TestEnvironment.Golden(name); }

        /// <summary>Fails unless <paramref name="encoded"/> holds exactly the bytes of the golden file.</summary>
        protected static void AssertEncodes(ArraySegment<byte> encoded, string golden)
        {
            var actual = new byte[encoded.Count];
            Array.Copy(encoded.Array, encoded.Offset, actual, 0, encoded.Count);
            Assert.AreEqual(BitConverter.ToString(Golden(golden)), BitConverter.ToString(actual),
                "C# encoding differs from " + golden);
        }

        /// <summary>The message the golden file decodes to, which must be a <typeparamref name="T"/>.</summary>
        protected T DecodeGolden<T>(string golden)
        {
            object decoded = _codec.Decode(new ArraySegment<byte>(Golden(golden)));
            Assert.IsInstanceOf(typeof(T), decoded);
            return (T)decoded;
        }

        /// <summary>The header of every golden Frame file (frame_*.json): the golden session, stream 1, 4x2 pixels in
        /// 16-byte rows and the same client clock; RGBA8, top-down, sRGB, alpha ignored unless the file says
        /// otherwise.</summary>
        protected static FrameHeader GoldenFrame(ulong frameId, PixelFormat format = PixelFormat.RGBA8,
            RowOrder rows = RowOrder.TopDown, ColorSpace space = ColorSpace.SRGB, AlphaMode alpha = AlphaMode.Ignore)
        {
            return new FrameHeader
            {
                SessionId = Session, StreamId = 1, FrameId = frameId, Width = 4, Height = 2, Stride = 16,
                PixelFormat = format, RowOrder = rows, ColorSpace = space, AlphaMode = alpha,
                CaptureTimeUs = 1700000000000000UL, SendTimeUs = 1700000000000250UL,
            };
        }

        /// <summary>welcome.json (protocol 1.0); welcome_capacity.json is the same server at protocol 1.4.</summary>
        protected static WelcomeMessage GoldenWelcome()
        {
            return new WelcomeMessage
            {
                SessionId = Session, ProtocolMajor = 1, ProtocolMinor = 0, ServerVersion = "0.1.0", Capabilities = 83,
                InitialCredits = 2, MaxWidth = 2048, MaxHeight = 2048, MaxMessageBytes = 16781312, LatencyFrames = 1,
                Model = new ModelInfoData { Name = "tiny", Family = ModelFamily.SD15, Width = 256, Height = 256 },
                HeartbeatIntervalMs = 1000,
                PixelFormats = new[] { PixelFormat.RGBA8, PixelFormat.BGRA8, PixelFormat.RGB8 },
                Warning = "client speaks protocol 1.1, this server speaks 1.0",
            };
        }
    }
}
