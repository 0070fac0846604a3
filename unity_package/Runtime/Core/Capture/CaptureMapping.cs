// How a camera frame of any size and aspect becomes the server's frame size, and back.
// Conventions: uv in [0,1] with v TOP-DOWN (the reprojection contract's), pixel rects with y = 0 at the top row.
//   Fit (default): the whole camera frame, aspect kept, centred, black bars (letterbox / pillarbox) fill the rest.
//   Crop: the target filled, aspect kept, the camera frame's overflowing sides cut off (centred).
//   Stretch: the whole camera frame scaled to the whole target (aspect changes).
// The capture pass samples the camera frame at SourceFromTarget(target uv) inside TargetRect (black outside); the
// display pass samples the result at TargetFromSource(camera uv) and shows the live frame where that falls
// outside TargetRect (Crop's cut sides). The engine shaders use exactly these scale-bias pairs.
using System;
using StreamDiffusion.Bridge.Core.Protocol;

namespace StreamDiffusion.Bridge.Core.Capture
{
    /// <summary>How the camera frame is scaled to the server's frame size.</summary>
    public enum ScalePolicy
    {
        /// <summary>Whole frame, aspect kept, black bars (default).</summary>
        Fit = 0,
        /// <summary>Target filled, aspect kept, sides cut off.</summary>
        Crop = 1,
        /// <summary>Whole frame to whole target, aspect not kept.</summary>
        Stretch = 2,
    }

    /// <summary>A rectangle of whole pixels, y = 0 at the top row.</summary>
    public struct PixelRect
    {
        public int X;
        public int Y;
        public int Width;
        public int Height;

        public PixelRect(int x, int y, int width, int height)
        {
            X = x;
            Y = y;
            Width = width;
            Height = height;
        }

        /// <inheritdoc />
        public override string ToString()
        {
            return "(" + X + ", " + Y + ", " + Width + "x" + Height + ")";
        }
    }

    /// <summary>uv' = uv * Scale + Bias, per axis (v top-down).</summary>
    public struct UvScaleBias
    {
        public double ScaleU;
        public double ScaleV;
        public double BiasU;
        public double BiasV;

        public UvScaleBias(double scaleU, double scaleV, double biasU, double biasV)
        {
            ScaleU = scaleU;
            ScaleV = scaleV;
            BiasU = biasU;
            BiasV = biasV;
        }

        /// <summary>The identity mapping.</summary>
        public static UvScaleBias Identity { get { return new UvScaleBias(1, 1, 0, 0); } }

        public void Apply(double u, double v, out double mappedU, out double mappedV)
        {
            mappedU = u * ScaleU + BiasU;
            mappedV = v * ScaleV + BiasV;
        }

        /// <summary>The mapping back (uv = (uv' - Bias) / Scale).</summary>
        public UvScaleBias Inverse()
        {
            return new UvScaleBias(1 / ScaleU, 1 / ScaleV, -BiasU / ScaleU, -BiasV / ScaleV);
        }

        /// <inheritdoc />
        public override string ToString()
        {
            return "scale (" + ScaleU.ToString("R") + ", " + ScaleV.ToString("R") + ") bias (" + BiasU.ToString("R") +
                   ", " + BiasV.ToString("R") + ")";
        }
    }

    /// <summary>The mapping between a camera frame (source) and the frame sent to the server (target).</summary>
    public struct CaptureMapping
    {
        public int SourceWidth;
        public int SourceHeight;
        public int TargetWidth;
        public int TargetHeight;
        public ScalePolicy Policy;

        /// <summary>Pixels of the target the camera frame covers (all of it for Crop and Stretch).</summary>
        public PixelRect TargetRect;

        /// <summary>Target uv -> source (camera) uv: what the capture pass samples (inside TargetRect).</summary>
        public UvScaleBias SourceFromTarget;

        /// <summary>Source (camera) uv -> target (result) uv: what the display pass samples.</summary>
        public UvScaleBias TargetFromSource;

        /// <summary>Computes the mapping of a <paramref name="sourceWidth"/> x <paramref name="sourceHeight"/>
        /// camera frame onto a <paramref name="targetWidth"/> x <paramref name="targetHeight"/> server frame.</summary>
        public static CaptureMapping Compute(int sourceWidth, int sourceHeight, int targetWidth, int targetHeight, ScalePolicy policy)
        {
            CheckSize("source", sourceWidth, sourceHeight);
            CheckSize("target", targetWidth, targetHeight);
            var m = new CaptureMapping
            {
                SourceWidth = sourceWidth,
                SourceHeight = sourceHeight,
                TargetWidth = targetWidth,
                TargetHeight = targetHeight,
                Policy = policy,
                TargetRect = new PixelRect(0, 0, targetWidth, targetHeight),
            };
            // The part of the source shown, in source uv: (x0, y0) and size (w, h).
            double x0 = 0, y0 = 0, w = 1, h = 1;
            double sx = (double)targetWidth / sourceWidth, sy = (double)targetHeight / sourceHeight;
            switch (policy)
            {
                case ScalePolicy.Fit:
                {
                    double s = Math.Min(sx, sy);
                    int cw = Math.Max(1, Math.Min(targetWidth, (int)Math.Round(sourceWidth * s)));
                    int ch = Math.Max(1, Math.Min(targetHeight, (int)Math.Round(sourceHeight * s)));
                    m.TargetRect = new PixelRect((targetWidth - cw) / 2, (targetHeight - ch) / 2, cw, ch);
                    break;
                }
                case ScalePolicy.Crop:
                {
                    double s = Math.Max(sx, sy);
                    w = targetWidth / s / sourceWidth;
                    h = targetHeight / s / sourceHeight;
                    x0 = (1 - w) / 2;
                    y0 = (1 - h) / 2;
                    break;
                }
                case ScalePolicy.Stretch:
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(policy), "ScalePolicy " + (int)policy +
                                                          " is not Fit (0), Crop (1) or Stretch (2).");
            }
            PixelRect r = m.TargetRect;
            double tu0 = (double)r.X / targetWidth, tv0 = (double)r.Y / targetHeight;
            double tw = (double)r.Width / targetWidth, th = (double)r.Height / targetHeight;
            double scaleU = w / tw, scaleV = h / th;
            m.SourceFromTarget = new UvScaleBias(scaleU, scaleV, x0 - tu0 * scaleU, y0 - tv0 * scaleV);
            m.TargetFromSource = m.SourceFromTarget.Inverse();
            return m;
        }

        /// <summary>True when the target uv (v top-down) lies in the part of the target the camera frame covers.</summary>
        public bool TargetContains(double u, double v)
        {
            double x = u * TargetWidth, y = v * TargetHeight;
            return x >= TargetRect.X && x <= TargetRect.X + TargetRect.Width &&
                   y >= TargetRect.Y && y <= TargetRect.Y + TargetRect.Height;
        }

        /// <summary>The target uv rectangle (u0, v0, u1, v1; v top-down) the camera frame covers: what the display
        /// pass accepts as valid result uv.</summary>
        public void TargetUvBounds(out double u0, out double v0, out double u1, out double v1)
        {
            u0 = (double)TargetRect.X / TargetWidth;
            v0 = (double)TargetRect.Y / TargetHeight;
            u1 = (double)(TargetRect.X + TargetRect.Width) / TargetWidth;
            v1 = (double)(TargetRect.Y + TargetRect.Height) / TargetHeight;
        }

        /// <summary>The frame size to send: the model's size from the Welcome when the server names one, otherwise
        /// the fallback (project settings), in both cases within the Welcome's MaxWidth / MaxHeight (0 = no limit).</summary>
        public static void ServerFrameSize(WelcomeMessage welcome, int fallbackWidth, int fallbackHeight, out int width, out int height)
        {
            CheckSize("fallback", fallbackWidth, fallbackHeight);
            width = fallbackWidth;
            height = fallbackHeight;
            if (welcome == null) return;
            if (welcome.Model != null && welcome.Model.Width > 0 && welcome.Model.Height > 0)
            {
                width = (int)Math.Min(welcome.Model.Width, int.MaxValue);
                height = (int)Math.Min(welcome.Model.Height, int.MaxValue);
            }
            if (welcome.MaxWidth > 0 && width > welcome.MaxWidth) width = (int)welcome.MaxWidth;
            if (welcome.MaxHeight > 0 && height > welcome.MaxHeight) height = (int)welcome.MaxHeight;
        }

        private static void CheckSize(string what, int width, int height)
        {
            if (width <= 0 || height <= 0)
            {
                throw new ArgumentOutOfRangeException(what + "Width", "CaptureMapping: the " + what + " size is " + width +
                                                      "x" + height + "; both sides must be at least 1 pixel.");
            }
        }

        /// <inheritdoc />
        public override string ToString()
        {
            return Policy + " " + SourceWidth + "x" + SourceHeight + " -> " + TargetWidth + "x" + TargetHeight +
                   " rect " + TargetRect + ", source from target " + SourceFromTarget;
        }
    }
}
