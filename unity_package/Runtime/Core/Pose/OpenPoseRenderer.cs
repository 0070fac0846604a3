// The OpenPose-format control image drawn from 2-D keypoints, what the public OpenPose ControlNets were trained on
// (the ControlNet 1.1 annotator's body drawing): COCO-18 keypoints, 17 limbs as filled ellipses of half-width 4 in
// 60% of their colour, then each keypoint a filled disc of radius 4 in its full colour, opaque, on black. Keypoints
// snap to whole pixels (floor(x + 0.5); x right, y down, pixel centres at integer coordinates) and a pixel is covered
// when its centre lies inside, tested in exact 64-bit integer arithmetic, so this draws the same bytes as the Python
// reference renderer (sdbridge.pipeline.openpose, whose docstring states the convention) and the C++ core's; the
// tests compare against the images it wrote (schemas/golden/pose). Engine-free; compiled and tested here (mcs).
using System;

namespace StreamDiffusion.Bridge.Core.Pose
{
    /// <summary>Draws one or more bodies' COCO-18 keypoints as an OpenPose control image (RGBA8, top row first).</summary>
    public static class OpenPoseRenderer
    {
        /// <summary>Keypoints per body (COCO-18, the annotator's order; see <see cref="OpenPoseKeypoint"/>).</summary>
        public const int KeypointCount = 18;
        /// <summary>Half-width of a limb's ellipse in pixels.</summary>
        public const int StickWidth = 4;
        /// <summary>Radius of a keypoint's disc in pixels.</summary>
        public const int PointRadius = 4;
        /// <summary>Largest width or height drawn (keeps the integer tests inside 64 bits).</summary>
        public const int MaxSize = 4096;

        /// <summary>Limb i joins keypoints Limbs[2i] and Limbs[2i + 1] and is drawn in 60% of Colors[i].</summary>
        public static readonly int[] Limbs =
        {
            1, 2, 1, 5, 2, 3, 3, 4, 5, 6, 6, 7, 1, 8, 8, 9, 9, 10, 1, 11, 11, 12, 12, 13, 1, 0, 0, 14, 14, 16, 0, 15,
            15, 17,
        };

        /// <summary>Keypoint i's colour as R, G, B at Colors[3i..3i+2] (and limb i's before dimming).</summary>
        public static readonly byte[] Colors =
        {
            255, 0, 0, 255, 85, 0, 255, 170, 0, 255, 255, 0, 170, 255, 0, 85, 255, 0, 0, 255, 0, 0, 255, 85,
            0, 255, 170, 0, 255, 255, 0, 170, 255, 0, 85, 255, 0, 0, 255, 85, 0, 255, 170, 0, 255, 255, 0, 255,
            255, 0, 170, 255, 0, 85,
        };

        /// <summary>Number of limbs drawn (the annotator's 19 pairs zipped with 18 colours, less the ear-shoulder pairs).</summary>
        public static int LimbCount { get { return Limbs.Length / 2; } }

        /// <summary>A new black image with one body drawn; keypointsXY holds x, y per keypoint (NaN: missing).</summary>
        public static byte[] Render(float[] keypointsXY, int width, int height)
        {
            CheckSize(width, height);
            var image = new byte[(long)width * height * 4];
            Clear(image, width, height);
            Draw(image, width, height, keypointsXY);
            return image;
        }

        /// <summary>Opaque black, every pixel: the background before <see cref="Draw"/>.</summary>
        public static void Clear(byte[] image, int width, int height)
        {
            CheckBuffer(image, width, height);
            long count = (long)width * height * 4;
            for (long i = 0; i < count; i += 4)
            {
                image[i] = 0;
                image[i + 1] = 0;
                image[i + 2] = 0;
                image[i + 3] = 255;
            }
        }

        /// <summary>Draws one body over the image (RGBA8, Width x 4 bytes a row, top row first): limbs, then discs.</summary>
        public static void Draw(byte[] image, int width, int height, float[] keypointsXY)
        {
            CheckBuffer(image, width, height);
            if (keypointsXY == null || keypointsXY.Length != KeypointCount * 2)
                throw new ArgumentException("keypointsXY has " + (keypointsXY == null ? 0 : keypointsXY.Length) +
                    " values; one OpenPose body has " + KeypointCount + " keypoints = " + (KeypointCount * 2) +
                    " values (x, y each, NaN for a missing one)", "keypointsXY");
            var xs = new long[KeypointCount];
            var ys = new long[KeypointCount];
            var present = new bool[KeypointCount];
            for (int k = 0; k < KeypointCount; k++)
                present[k] = Snap(keypointsXY[2 * k], keypointsXY[2 * k + 1], width, height, out xs[k], out ys[k]);
            for (int limb = 0; limb < LimbCount; limb++)
            {
                int a = Limbs[2 * limb], b = Limbs[2 * limb + 1];
                if (present[a] && present[b])
                    FillLimb(image, width, height, xs[a], ys[a], xs[b], ys[b], limb);
            }
            for (int k = 0; k < KeypointCount; k++)
                if (present[k]) FillDisc(image, width, height, xs[k], ys[k], k);
        }

        /// <summary>The keypoint as a whole pixel; false when missing (NaN, infinite) or more than half the image outside.</summary>
        public static bool Snap(float x, float y, int width, int height, out long px, out long py)
        {
            px = 0;
            py = 0;
            if (float.IsNaN(x) || float.IsNaN(y) || float.IsInfinity(x) || float.IsInfinity(y)) return false;
            double fx = Math.Floor((double)x + 0.5), fy = Math.Floor((double)y + 0.5);
            if (fx < -(width / 2) || fx > width + width / 2 || fy < -(height / 2) || fy > height + height / 2) return false;
            px = (long)fx;
            py = (long)fy;
            return true;
        }

        private static void FillLimb(byte[] image, int width, int height, long px, long py, long qx, long qy, int limb)
        {
            long vx = qx - px, vy = qy - py;
            long length2 = vx * vx + vy * vy;
            if (length2 == 0) return;
            long reach = (long)Math.Sqrt(length2) / 2 + StickWidth + 2;
            long cx2 = px + qx, cy2 = py + qy;
            long x0 = Math.Max(0, cx2 / 2 - reach), x1 = Math.Min(width - 1, cx2 / 2 + reach);
            long y0 = Math.Max(0, cy2 / 2 - reach), y1 = Math.Min(height - 1, cy2 / 2 + reach);
            long b2 = 4L * StickWidth * StickWidth;
            byte r = Dim(Colors[3 * limb]), g = Dim(Colors[3 * limb + 1]), bl = Dim(Colors[3 * limb + 2]);
            for (long y = y0; y <= y1; y++)
            {
                for (long x = x0; x <= x1; x++)
                {
                    long dx2 = 2 * x - cx2, dy2 = 2 * y - cy2;
                    long along2 = dx2 * vx + dy2 * vy, across2 = dy2 * vx - dx2 * vy;
                    long acrossSq = across2 * across2;
                    if (acrossSq > b2 * length2) continue;  // first: keeps the next products inside 64 bits
                    if (b2 * along2 * along2 + length2 * acrossSq > b2 * length2 * length2) continue;
                    Put(image, width, x, y, r, g, bl);
                }
            }
        }

        private static void FillDisc(byte[] image, int width, int height, long cx, long cy, int keypoint)
        {
            long x0 = Math.Max(0, cx - PointRadius), x1 = Math.Min(width - 1, cx + PointRadius);
            long y0 = Math.Max(0, cy - PointRadius), y1 = Math.Min(height - 1, cy + PointRadius);
            for (long y = y0; y <= y1; y++)
                for (long x = x0; x <= x1; x++)
                    if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= PointRadius * PointRadius)
                        Put(image, width, x, y, Colors[3 * keypoint], Colors[3 * keypoint + 1], Colors[3 * keypoint + 2]);
        }

        /// <summary>The annotator's limb colour: int(c * 0.6).</summary>
        private static byte Dim(byte c) { return (byte)(c * 6 / 10); }

        private static void Put(byte[] image, int width, long x, long y, byte r, byte g, byte b)
        {
            long i = (y * width + x) * 4;
            image[i] = r;
            image[i + 1] = g;
            image[i + 2] = b;
            image[i + 3] = 255;
        }

        private static void CheckSize(int width, int height)
        {
            if (width < 1 || width > MaxSize)
                throw new ArgumentOutOfRangeException("width", width, "width must be 1.." + MaxSize + "; draw the pose smaller (the ControlNet resizes it anyway)");
            if (height < 1 || height > MaxSize)
                throw new ArgumentOutOfRangeException("height", height, "height must be 1.." + MaxSize + "; draw the pose smaller (the ControlNet resizes it anyway)");
        }

        private static void CheckBuffer(byte[] image, int width, int height)
        {
            CheckSize(width, height);
            long need = (long)width * height * 4;
            if (image == null || image.LongLength < need)
                throw new ArgumentException("image holds " + (image == null ? 0 : image.LongLength) + " bytes; " + width +
                    " x " + height + " RGBA8 needs " + need, "image");
        }
    }
}
