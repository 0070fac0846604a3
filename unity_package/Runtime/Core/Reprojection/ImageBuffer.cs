// A small float image for the CPU reference warp: rows top-down, channels interleaved.
using System;

namespace StreamDiffusion.Bridge.Core.Reprojection
{
    /// <summary>Float image, rows top-down (row 0 is the top), <see cref="Channels"/> values per pixel.</summary>
    public sealed class ImageBuffer
    {
        public int Width { get; private set; }
        public int Height { get; private set; }
        public int Channels { get; private set; }

        /// <summary>Width * Height * Channels values, row-major, top row first.</summary>
        public float[] Pixels { get; private set; }

        public ImageBuffer(int width, int height, int channels)
        {
            if (width <= 0 || height <= 0 || channels <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(width), "ImageBuffer is " + width + "x" + height + " with " +
                                                      channels + " channels; all three must be at least 1.");
            }
            Width = width;
            Height = height;
            Channels = channels;
            Pixels = new float[width * height * channels];
        }

        /// <summary>Value of channel <paramref name="c"/> at pixel (x, y), y = 0 at the top.</summary>
        public float Get(int x, int y, int c)
        {
            return Pixels[(y * Width + x) * Channels + c];
        }

        public void Set(int x, int y, int c, float value)
        {
            Pixels[(y * Width + x) * Channels + c] = value;
        }

        /// <summary>Nearest texel to uv (v top-down), clamped to the edge: the texel whose area contains uv.</summary>
        public void NearestTexel(double u, double v, out int x, out int y)
        {
            x = Clamp((int)Math.Floor(u * Width), Width);
            y = Clamp((int)Math.Floor(v * Height), Height);
        }

        /// <summary>Samples channel <paramref name="c"/> at uv (v top-down): nearest texel or bilinear between texel
        /// centres, clamped to the edge (what a GPU sampler with clamp addressing does).</summary>
        public float Sample(double u, double v, int c, bool bilinear)
        {
            int x, y;
            if (!bilinear)
            {
                NearestTexel(u, v, out x, out y);
                return Get(x, y, c);
            }
            double fx = u * Width - 0.5, fy = v * Height - 0.5;
            int x0 = (int)Math.Floor(fx), y0 = (int)Math.Floor(fy);
            double ax = fx - x0, ay = fy - y0;
            int xa = Clamp(x0, Width), xb = Clamp(x0 + 1, Width), ya = Clamp(y0, Height), yb = Clamp(y0 + 1, Height);
            double top = Get(xa, ya, c) * (1 - ax) + Get(xb, ya, c) * ax;
            double bottom = Get(xa, yb, c) * (1 - ax) + Get(xb, yb, c) * ax;
            return (float)(top * (1 - ay) + bottom * ay);
        }

        private static int Clamp(int i, int n)
        {
            return i < 0 ? 0 : i >= n ? n - 1 : i;
        }
    }
}
