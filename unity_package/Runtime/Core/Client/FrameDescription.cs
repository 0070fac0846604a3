// What the caller says about a frame it submits; the client adds session, frame id and send time.
// Compiled and tested here with mono's mcs (C# 7.2).
using sdbridge.protocol;

namespace StreamDiffusion.Bridge.Core.Client
{
    /// <summary>Layout of submitted pixels. Unity's CPU images are bottom-up RGBA8; say so here.</summary>
    public struct FrameDescription
    {
        public int Width;
        public int Height;
        /// <summary>Bytes per row (0 = tightly packed: Width x bytes per pixel).</summary>
        public int Stride;
        public PixelFormat PixelFormat;
        public RowOrder RowOrder;
        public ColorSpace ColorSpace;
        public AlphaMode AlphaMode;
        public uint StreamId;
        /// <summary>When the frame was rendered (client clock, us); 0 = now.</summary>
        public ulong CaptureTimeUs;
        /// <summary>Protocol 1.4: this frame starts a new shot (camera cut, level load, teleport): the server resets
        /// the session's temporal state (latent feedback, cached attention, motion warp) before it.</summary>
        public bool SceneCut;

        /// <summary>A tightly packed RGBA8 sRGB frame with ignored alpha.</summary>
        public static FrameDescription Rgba8(int width, int height, RowOrder rowOrder)
        {
            return new FrameDescription
            {
                Width = width,
                Height = height,
                Stride = width * 4,
                PixelFormat = PixelFormat.RGBA8,
                RowOrder = rowOrder,
                ColorSpace = ColorSpace.SRGB,
                AlphaMode = AlphaMode.Ignore,
            };
        }
    }

    /// <summary>One stylized frame: header plus pixels in a pooled buffer (only the first Length bytes
    /// are valid). Obtained with BridgeClient.TryGetResult, which swaps frames instead of copying.</summary>
    public sealed class ResultFrame
    {
        public StreamDiffusion.Bridge.Core.Protocol.ResultHeader Header;
        public byte[] Pixels = new byte[0];
        public int Length;
        /// <summary>Client clock (us) when the result arrived.</summary>
        public ulong ReceivedTimeUs;

        /// <summary>Submit to receive on the client clock, in microseconds.</summary>
        public long RoundTripUs { get { return (long)ReceivedTimeUs - (long)Header.SendTimeUs; } }

        /// <summary>Takes the received pixel part without copying: this frame's old buffer goes back to the
        /// message pool in exchange.</summary>
        internal void TakePixels(StreamDiffusion.Bridge.Core.Transport.MultipartMessage message, int part)
        {
            Length = message.Length(part);
            Pixels = message.SwapBuffer(part, Pixels);
        }
    }
}
