// CPU reference of the reprojection warp over whole images: the engine shaders do the same per
// pixel on the GPU (Runtime/Shaders/Resources/StreamDiffusionBridge.shader, pass "Composite"). Used by the NUnit tests and by
// tools; too slow for a game frame.
using System;
using StreamDiffusion.Bridge.Core.Capture;

namespace StreamDiffusion.Bridge.Core.Reprojection
{
    /// <summary>How the result is sampled at the source uv.</summary>
    public enum WarpSampling
    {
        Nearest = 0,
        Bilinear = 1,
    }

    /// <summary>Whole-image reference of the backward warp and the composite.</summary>
    public static class ReprojectionWarp
    {
        /// <summary>Warps <paramref name="result"/> (the image depicting the source frame) to the current camera.
        /// For each pixel of <paramref name="output"/> (the current frame's size) it reads the current device depth
        /// from <paramref name="currentDepth"/> (1 channel, same size as output), reprojects with
        /// <paramref name="reprojector"/>, tests disocclusion against <paramref name="sourceDepth"/> (1 channel,
        /// the source frame's device depth in camera uv, point-sampled), maps the source camera uv to result uv with
        /// <paramref name="resultFromCamera"/> (a CaptureMapping's TargetFromSource; identity when the result covers
        /// the whole camera frame) and samples the result. <paramref name="outcomes"/> (Width * Height, may be null)
        /// receives each pixel's outcome; hole pixels of <paramref name="output"/> are left as they were.
        /// Returns the number of holes.</summary>
        public static int Warp(Reprojector reprojector, ImageBuffer currentDepth, ImageBuffer sourceDepth, ImageBuffer result,
                               CaptureMapping? resultFromCamera, WarpSampling sampling, ImageBuffer output, WarpOutcome[] outcomes)
        {
            if (reprojector == null) throw new ArgumentNullException(nameof(reprojector));
            CheckImage(nameof(currentDepth), currentDepth, 1);
            CheckImage(nameof(sourceDepth), sourceDepth, 1);
            CheckImage(nameof(result), result, 0);
            CheckImage(nameof(output), output, result.Channels);
            if (currentDepth.Width != output.Width || currentDepth.Height != output.Height)
            {
                throw new ArgumentException("ReprojectionWarp.Warp: currentDepth is " + currentDepth.Width + "x" +
                                            currentDepth.Height + " but output is " + output.Width + "x" + output.Height +
                                            "; the current depth must match the output pixel for pixel.", nameof(currentDepth));
            }
            if (outcomes != null && outcomes.Length < output.Width * output.Height)
            {
                throw new ArgumentException("ReprojectionWarp.Warp: outcomes holds " + outcomes.Length + " entries; it " +
                                            "needs Width * Height = " + output.Width * output.Height + ".", nameof(outcomes));
            }
            int holes = 0;
            for (int y = 0; y < output.Height; y++)
            {
                for (int x = 0; x < output.Width; x++)
                {
                    double u = (x + 0.5) / output.Width, v = (y + 0.5) / output.Height;
                    double ru, rv;
                    WarpOutcome o = WarpPixel(reprojector, u, v, currentDepth.Get(x, y, 0), sourceDepth, resultFromCamera,
                                              out ru, out rv);
                    if (outcomes != null) outcomes[y * output.Width + x] = o;
                    if (o != WarpOutcome.Sampled)
                    {
                        holes++;
                        continue;
                    }
                    for (int c = 0; c < result.Channels; c++)
                    {
                        output.Set(x, y, c, result.Sample(ru, rv, c, sampling == WarpSampling.Bilinear));
                    }
                }
            }
            return holes;
        }

        /// <summary>One pixel of the warp: the outcome and, on Sampled, the result uv (v top-down) to sample.</summary>
        public static WarpOutcome WarpPixel(Reprojector reprojector, double u, double v, double currentDepth, ImageBuffer sourceDepth,
                                            CaptureMapping? resultFromCamera, out double resultU, out double resultV)
        {
            double su, sv, sz, sw;
            resultU = resultV = 0;
            WarpOutcome o = reprojector.TryProject(u, v, currentDepth, out su, out sv, out sz, out sw);
            if (o != WarpOutcome.Sampled) return o;
            if (reprojector.IsOccluded(su, sv, sz, sw, sourceDepth.Sample(su, sv, 0, false))) return WarpOutcome.Disoccluded;
            resultU = su;
            resultV = sv;
            if (resultFromCamera.HasValue)
            {
                CaptureMapping map = resultFromCamera.Value;
                map.TargetFromSource.Apply(su, sv, out resultU, out resultV);
                if (!map.TargetContains(resultU, resultV)) return WarpOutcome.OutsideSource;
            }
            return WarpOutcome.Sampled;
        }

        /// <summary>Final = lerp(live, warped, opacity) where the warp sampled, live where it left a hole.</summary>
        public static void Composite(ImageBuffer live, ImageBuffer warped, WarpOutcome[] outcomes, float opacity, ImageBuffer output)
        {
            CheckImage(nameof(live), live, 0);
            CheckImage(nameof(warped), warped, live.Channels);
            CheckImage(nameof(output), output, live.Channels);
            if (outcomes == null) throw new ArgumentNullException(nameof(outcomes));
            if (!(opacity >= 0 && opacity <= 1))
            {
                throw new ArgumentOutOfRangeException(nameof(opacity), "Composite opacity is " + opacity + "; it must be in [0, 1].");
            }
            int n = live.Width * live.Height;
            if (warped.Width * warped.Height != n || output.Width * output.Height != n || outcomes.Length < n)
            {
                throw new ArgumentException("Composite: live, warped, output and outcomes must all cover " + live.Width + "x" +
                                            live.Height + " pixels.", nameof(warped));
            }
            int ch = live.Channels;
            for (int i = 0; i < n; i++)
            {
                float a = outcomes[i] == WarpOutcome.Sampled ? opacity : 0f;
                for (int c = 0; c < ch; c++)
                {
                    float l = live.Pixels[i * ch + c];
                    output.Pixels[i * ch + c] = l + (warped.Pixels[i * ch + c] - l) * a;
                }
            }
        }

        private static void CheckImage(string name, ImageBuffer image, int channels)
        {
            if (image == null) throw new ArgumentNullException(name);
            if (channels > 0 && image.Channels != channels)
            {
                throw new ArgumentException("ReprojectionWarp: " + name + " has " + image.Channels + " channels; it needs " +
                                            channels + ".", name);
            }
        }
    }
}
