// One auxiliary plane of a Frame (protocol 1.3, schemas/bridge.fbs PlaneDesc): depth, normals, segmentation ids,
// motion vectors or a control image, sent as its own ZeroMQ part after the colour pixels. Only the fields of its
// Kind mean something (bridge.fbs documents each convention). Compiled and tested here with mono's mcs (C# 7.2).
using System;
using sdbridge.protocol;

namespace StreamDiffusion.Bridge.Core.Protocol
{
    /// <summary>The description of one plane (FrameHeader.Planes); its bytes are Stride x Height.</summary>
    public sealed class PlaneDescription
    {
        public PlaneKind Kind;
        public PlaneFormat Format;
        public uint Width;
        public uint Height;
        /// <summary>Bytes per row, at least Width x PlaneFormats.BytesPerPixel(Format).</summary>
        public uint Stride;
        public RowOrder RowOrder = RowOrder.TopDown;
        /// <summary>Depth: Linear (view distance) or Device (the depth buffer's [0, 1]).</summary>
        public DepthEncoding DepthEncoding;
        /// <summary>Depth (Device): 1 at the near plane, 0 at the far plane.</summary>
        public bool ReversedZ;
        /// <summary>Depth: near and far plane distances in world units (DepthFar 0 = infinite).</summary>
        public float DepthNear;
        public float DepthFar;
        public NormalSpace NormalSpace;
        public NormalEncoding NormalEncoding;
        public MotionUnits MotionUnits;
        /// <summary>Motion: the frame p + v points to (Previous or Next).</summary>
        public MotionTarget MotionTarget;
        /// <summary>Motion: +y points up the image (false: down).</summary>
        public bool MotionYUp;
        /// <summary>Control: what the image is ("pose", "canny", ...); otherwise a free label.</summary>
        public string Name = "";

        /// <summary>Bytes of the plane's part: Stride x Height.</summary>
        public long ByteCount { get { return (long)Stride * Height; } }

        /// <summary>A plane of Width x Height packed rows (Stride = Width x bytes per pixel), top-down.</summary>
        public static PlaneDescription Packed(PlaneKind kind, PlaneFormat format, uint width, uint height)
        {
            return new PlaneDescription
            {
                Kind = kind, Format = format, Width = width, Height = height,
                Stride = width * (uint)PlaneFormats.BytesPerPixel(format),
            };
        }
    }

    /// <summary>One plane to submit with a frame (BridgeClient.SubmitFrame): its description and its
    /// Description.ByteCount bytes from Bytes[Offset] (copied during the call).</summary>
    public struct PlaneData
    {
        public PlaneDescription Description;
        public byte[] Bytes;
        public int Offset;

        public PlaneData(PlaneDescription description, byte[] bytes, int offset = 0)
        {
            Description = description;
            Bytes = bytes;
            Offset = offset;
        }
    }

    /// <summary>Bytes per pixel of each plane format.</summary>
    public static class PlaneFormats
    {
        public static int BytesPerPixel(PlaneFormat format)
        {
            int bytes = PixelSizes.BytesPerPixel(format);  // generated from bridge.fbs (BridgeConstants.cs)
            if (bytes == 0)
            {
                throw new ArgumentOutOfRangeException(nameof(format), format,
                    "plane format must be one of R8, RGBA8, R16F, R32F, RG16F, RGBA16F, R16UI, R32UI, RG32F");
            }
            return bytes;
        }
    }
}
