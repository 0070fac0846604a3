// NUnit tests of the reprojection core: matrix math, the per-pixel function, the CPU reference
// warp (nearest and bilinear) and the camera history, with synthetic depth and camera motion. A camera translation
// chosen so that a fronto-parallel plane shifts by a whole number of pixels must reproject EXACTLY (nearest
// sampling) away from the borders, and the pixels an occluder uncovers must be reported as holes. Every scene runs
// with an OpenGL-style projection (NDC z in [-1, 1]) and a reversed-Z [0, 1] one (what GL.GetGPUProjectionMatrix
// gives on Direct3D / Metal / Vulkan): the warp takes the depth convention from the matrices only.
using System;
using NUnit.Framework;
using StreamDiffusion.Bridge.Core.Capture;
using StreamDiffusion.Bridge.Core.Reprojection;

namespace StreamDiffusion.Bridge.Core.Tests
{
    [TestFixture]
    public sealed class ReprojectionTests
    {
        private const int W = 64;
        private const int H = 48;
        private const double Fov = 60;
        private const double Near = 0.5;
        private const double Far = 100;

        // ------------------------------------------------------------------ scene helpers

        /// <summary>GPU projection: the GL one, or the reversed-Z [0,1] one (row 2 = 0.5 * row 3 - 0.5 * row 2).</summary>
        private static Matrix4 Projection(bool reversedZ)
        {
            Matrix4 p = Matrix4.PerspectiveGl(Fov, (double)W / H, Near, Far);
            if (!reversedZ) return p;
            var v = new double[16];
            p.CopyRowMajor(v, 0);
            for (int k = 0; k < 4; k++) v[8 + k] = 0.5 * v[12 + k] - 0.5 * v[8 + k];
            return Matrix4.FromRowMajor(v);
        }

        /// <summary>View-projection of a camera at (x, 0, 0) looking down -z.</summary>
        private static Matrix4 ViewProjection(Matrix4 projection, double cameraX)
        {
            return projection.Multiply(Matrix4.Translation(-cameraX, 0, 0));
        }

        /// <summary>Device depth of a fronto-parallel plane at distance <paramref name="z"/> in front of the camera.</summary>
        private static double DeviceDepth(Matrix4 projection, double z)
        {
            double x, y, d, w;
            projection.Transform(0, 0, -z, 1, out x, out y, out d, out w);
            return d / w;
        }

        /// <summary>Camera x-translation that shifts a plane at distance z by exactly <paramref name="pixels"/> pixels.</summary>
        private static double ShiftFor(Matrix4 projection, double z, int pixels)
        {
            return 2.0 * pixels * z / (W * projection[0, 0]);
        }

        private static ImageBuffer Numbered(int channels)
        {
            var img = new ImageBuffer(W, H, channels);
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    for (int c = 0; c < channels; c++) img.Set(x, y, c, 1 + x + 100 * y + 10000 * c);
            return img;
        }

        private static ImageBuffer Depth(Func<int, double> depthOfColumn)
        {
            var img = new ImageBuffer(W, H, 1);
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) img.Set(x, y, 0, (float)depthOfColumn(x));
            return img;
        }

        // ------------------------------------------------------------------ matrices

        [Test]
        public void InverseTimesMatrixIsIdentity()
        {
            Matrix4 vp = Projection(false).Multiply(Matrix4.Translation(1.5, -2, 3));
            Assert.Less(vp.Multiply(vp.Inverse()).MaxDifference(Matrix4.Identity), 1e-12);
            Assert.Less(vp.Inverse().Multiply(vp).MaxDifference(Matrix4.Identity), 1e-12);
        }

        [Test]
        public void MultiplyAppliesTheRightOperandFirst()
        {
            Matrix4 a = Matrix4.Translation(1, 0, 0);
            Matrix4 s = Matrix4.FromRowMajor(2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1);
            double x, y, z, w;
            s.Multiply(a).Transform(1, 1, 1, 1, out x, out y, out z, out w); // translate, then scale
            Assert.AreEqual(new[] { 4.0, 2.0, 2.0, 1.0 }, new[] { x, y, z, w });
        }

        [Test]
        public void SingularMatrixInverseThrowsNamingTheCause()
        {
            Matrix4 flat = Matrix4.FromRowMajor(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
            var e = Assert.Throws<InvalidOperationException>(() => flat.Inverse());
            StringAssert.Contains("singular", e.Message);
        }

        [Test]
        public void FromRowMajorRejectsAWrongCount()
        {
            var e = Assert.Throws<ArgumentException>(() => Matrix4.FromRowMajor(1, 2, 3));
            StringAssert.Contains("16 values", e.Message);
        }

        // ------------------------------------------------------------------ per-pixel function

        [TestCase(false)]
        [TestCase(true)]
        public void StaticCameraMapsEveryPixelOntoItself(bool reversedZ)
        {
            Matrix4 vp = ViewProjection(Projection(reversedZ), 0.25);
            var r = new Reprojector(vp, vp);
            double d = DeviceDepth(Projection(reversedZ), 7);
            double su, sv, sz, sw;
            Assert.AreEqual(WarpOutcome.Sampled, r.TryProject(0.3, 0.7, d, out su, out sv, out sz, out sw));
            Assert.AreEqual(0.3, su, 1e-12);
            Assert.AreEqual(0.7, sv, 1e-12);
            Assert.AreEqual(d, sz, 1e-9);
            Assert.AreEqual(7, sw, 1e-9, "p.w is the linear view depth");
            Assert.IsFalse(r.IsOccluded(su, sv, sz, sw, d));
            Assert.IsTrue(r.IsOccluded(su, sv, sz, sw, DeviceDepth(Projection(reversedZ), 6.5)), "7 vs 6.5 is 7% apart");
            Assert.IsFalse(r.IsOccluded(su, sv, sz, sw, DeviceDepth(Projection(reversedZ), 7.05)), "within 1%");
        }

        [Test]
        public void PointBehindTheSourceCameraIsAHole()
        {
            Matrix4 p = Projection(false);
            // Destination camera 10 units behind the source (at z = +10): a point 5 units in front of it is 5 units
            // behind the source camera.
            Matrix4 src = p;
            Matrix4 dst = p.Multiply(Matrix4.Translation(0, 0, -10));
            var r = new Reprojector(src, dst);
            double su, sv, sz, sw;
            Assert.AreEqual(WarpOutcome.BehindCamera, r.TryProject(0.5, 0.5, DeviceDepth(p, 5), out su, out sv, out sz, out sw));
        }

        [Test]
        public void ReprojectorRejectsABadTolerance()
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Reprojector(Matrix4.Identity, Matrix4.Identity, 0));
            StringAssert.Contains("tolerance", e.Message);
        }

        [Test]
        public void OrthographicSourceComparesNdcDepth()
        {
            Matrix4 ortho = Matrix4.FromRowMajor(0.1, 0, 0, 0, 0, 0.1, 0, 0, 0, 0, -0.02, -1, 0, 0, 0, 1);
            var r = new Reprojector(ortho, ortho, 0.01);
            Assert.IsTrue(r.SourceIsOrthographic);
            double su, sv, sz, sw;
            Assert.AreEqual(WarpOutcome.Sampled, r.TryProject(0.5, 0.5, 0.2, out su, out sv, out sz, out sw));
            Assert.IsFalse(r.IsOccluded(su, sv, sz, sw, 0.205));
            Assert.IsTrue(r.IsOccluded(su, sv, sz, sw, 0.25));
        }

        // ------------------------------------------------------------------ whole-image warp

        [TestCase(false, 3)]
        [TestCase(true, 3)]
        [TestCase(false, -5)]
        [TestCase(true, 1)]
        public void TranslationShiftsAPlaneByWholePixelsExactly(bool reversedZ, int shift)
        {
            const double planeZ = 10;
            Matrix4 p = Projection(reversedZ);
            double d = DeviceDepth(p, planeZ);
            var r = new Reprojector(ViewProjection(p, 0), ViewProjection(p, ShiftFor(p, planeZ, shift)));
            ImageBuffer result = Numbered(3);
            var output = new ImageBuffer(W, H, 3);
            var outcomes = new WarpOutcome[W * H];
            int holes = ReprojectionWarp.Warp(r, Depth(x => d), Depth(x => d), result, null, WarpSampling.Nearest, output, outcomes);

            Assert.AreEqual(Math.Abs(shift) * H, holes, "the columns that left the source frame");
            for (int y = 0; y < H; y++)
            {
                for (int x = 0; x < W; x++)
                {
                    int sx = x + shift;
                    if (sx < 0 || sx >= W)
                    {
                        Assert.AreEqual(WarpOutcome.OutsideSource, outcomes[y * W + x], "pixel " + x + "," + y);
                        continue;
                    }
                    Assert.AreEqual(WarpOutcome.Sampled, outcomes[y * W + x], "pixel " + x + "," + y);
                    for (int c = 0; c < 3; c++)
                    {
                        Assert.AreEqual(result.Get(sx, y, c), output.Get(x, y, c), "pixel " + x + "," + y + " channel " + c);
                    }
                }
            }
        }

        [TestCase(false)]
        [TestCase(true)]
        public void OccluderUncoversBackgroundAsHoles(bool reversedZ)
        {
            // Background plane at 20, an occluder (full-height strip) at 5: a camera move that shifts the background
            // by 1 pixel shifts the occluder by 4. In the source the occluder covers columns [a, b).
            const double bgZ = 20, occZ = 5;
            const int a = 20, b = 32, bgShift = 1, occShift = 4;
            Matrix4 p = Projection(reversedZ);
            double dBg = DeviceDepth(p, bgZ), dOcc = DeviceDepth(p, occZ);
            double move = ShiftFor(p, bgZ, bgShift);
            Assert.AreEqual(move, ShiftFor(p, occZ, occShift), 1e-12, "the scene is built so both shifts are whole pixels");
            var r = new Reprojector(ViewProjection(p, 0), ViewProjection(p, move));
            ImageBuffer sourceDepth = Depth(x => x >= a && x < b ? dOcc : dBg);
            ImageBuffer currentDepth = Depth(x => x >= a - occShift && x < b - occShift ? dOcc : dBg);
            ImageBuffer result = Numbered(1);
            var output = new ImageBuffer(W, H, 1);
            var outcomes = new WarpOutcome[W * H];
            ReprojectionWarp.Warp(r, currentDepth, sourceDepth, result, null, WarpSampling.Nearest, output, outcomes);

            int disoccluded = 0;
            for (int y = 0; y < H; y++)
            {
                for (int x = 0; x < W; x++)
                {
                    bool onOccluder = x >= a - occShift && x < b - occShift;
                    int sx = x + (onOccluder ? occShift : bgShift);
                    WarpOutcome o = outcomes[y * W + x];
                    string at = "pixel " + x + "," + y;
                    if (sx >= W)
                    {
                        Assert.AreEqual(WarpOutcome.OutsideSource, o, at);
                    }
                    else if (!onOccluder && sx >= a && sx < b)
                    {
                        Assert.AreEqual(WarpOutcome.Disoccluded, o, at + ": hidden behind the occluder in the source");
                        disoccluded++;
                    }
                    else
                    {
                        Assert.AreEqual(WarpOutcome.Sampled, o, at);
                        Assert.AreEqual(result.Get(sx, y, 0), output.Get(x, y, 0), at);
                    }
                }
            }
            Assert.AreEqual((occShift - bgShift) * H, disoccluded, "the strip right of the occluder that the source never saw");
        }

        [Test]
        public void BilinearSamplingOfAHalfPixelShiftAveragesNeighbours()
        {
            const double planeZ = 10;
            Matrix4 p = Projection(false);
            double d = DeviceDepth(p, planeZ);
            // Half a pixel: shift 1 pixel over a plane twice as far away as the one we look at.
            var r = new Reprojector(ViewProjection(p, 0), ViewProjection(p, ShiftFor(p, planeZ, 1) / 2));
            ImageBuffer result = Numbered(1);
            var output = new ImageBuffer(W, H, 1);
            var outcomes = new WarpOutcome[W * H];
            ReprojectionWarp.Warp(r, Depth(x => d), Depth(x => d), result, null, WarpSampling.Bilinear, output, outcomes);
            for (int y = 1; y < H - 1; y++)
            {
                for (int x = 1; x < W - 2; x++)
                {
                    Assert.AreEqual(WarpOutcome.Sampled, outcomes[y * W + x]);
                    Assert.AreEqual((result.Get(x, y, 0) + result.Get(x + 1, y, 0)) / 2, output.Get(x, y, 0), 1e-3,
                                    "pixel " + x + "," + y);
                }
            }
        }

        [Test]
        public void CroppedResultLeavesTheCutSidesAsHoles()
        {
            // The result covers only the middle of the camera frame (Crop of a 64x48 frame into 32x32): camera uv
            // outside that middle has no result pixel.
            Matrix4 vp = ViewProjection(Projection(false), 0);
            var r = new Reprojector(vp, vp);
            CaptureMapping crop = CaptureMapping.Compute(W, H, 32, 32, ScalePolicy.Crop);
            double d = DeviceDepth(Projection(false), 10);
            var result = new ImageBuffer(32, 32, 1);
            var output = new ImageBuffer(W, H, 1);
            var outcomes = new WarpOutcome[W * H];
            ReprojectionWarp.Warp(r, Depth(x => d), Depth(x => d), result, crop, WarpSampling.Nearest, output, outcomes);
            Assert.AreEqual(WarpOutcome.OutsideSource, outcomes[10 * W + 0], "left edge is cut off by Crop");
            Assert.AreEqual(WarpOutcome.Sampled, outcomes[10 * W + W / 2], "centre is in the result");
            Assert.AreEqual(WarpOutcome.OutsideSource, outcomes[10 * W + W - 1], "right edge is cut off by Crop");
        }

        [Test]
        public void CompositeBlendsSampledPixelsAndKeepsLiveInHoles()
        {
            var live = new ImageBuffer(2, 1, 1);
            var warped = new ImageBuffer(2, 1, 1);
            var output = new ImageBuffer(2, 1, 1);
            live.Set(0, 0, 0, 10);
            live.Set(1, 0, 0, 10);
            warped.Set(0, 0, 0, 30);
            warped.Set(1, 0, 0, 30);
            ReprojectionWarp.Composite(live, warped, new[] { WarpOutcome.Sampled, WarpOutcome.Disoccluded }, 0.25f, output);
            Assert.AreEqual(15f, output.Get(0, 0, 0));
            Assert.AreEqual(10f, output.Get(1, 0, 0), "a hole shows the live frame");
            Assert.Throws<ArgumentOutOfRangeException>(() => ReprojectionWarp.Composite(live, warped,
                new[] { WarpOutcome.Sampled, WarpOutcome.Sampled }, 1.5f, output));
        }

        // ------------------------------------------------------------------ single precision (what the GPU does)

        /// <summary>The shader's arithmetic (Runtime/Shaders/Resources/StreamDiffusionBridge.shader, SDReproject) in float:
        /// the constants are the Reprojector's, cast to float as BridgeFrame uploads them.</summary>
        private static WarpOutcome FloatWarp(Reprojector r, float u, float v, float dstDepth, float storedDepth,
                                             out float su, out float sv)
        {
            var m = new float[16];
            for (int i = 0; i < 16; i++) m[i] = (float)r.SourceFromDestination[i / 4, i % 4];
            double[] s3 = r.InverseSourceRow3, d3 = r.InverseDestinationRow3;
            float x = 2f * u - 1f, y = 1f - 2f * v, z = dstDepth;
            float px = m[0] * x + m[1] * y + m[2] * z + m[3];
            float py = m[4] * x + m[5] * y + m[6] * z + m[7];
            float pw = m[12] * x + m[13] * y + m[14] * z + m[15];
            float invDstW = (float)d3[0] * x + (float)d3[1] * y + (float)d3[2] * z + (float)d3[3];
            su = sv = 0f;
            if (pw <= 0f || invDstW <= 0f) return WarpOutcome.BehindCamera;
            su = (px / pw + 1f) * 0.5f;
            sv = (1f - py / pw) * 0.5f;
            if (su < 0f || su > 1f || sv < 0f || sv > 1f) return WarpOutcome.OutsideSource;
            float srcW = pw / invDstW;
            float invW = (float)s3[0] * (2f * su - 1f) + (float)s3[1] * (1f - 2f * sv) + (float)s3[2] * storedDepth + (float)s3[3];
            if (invW <= 0f) return WarpOutcome.Disoccluded;
            float storedW = 1f / invW;
            return Math.Abs(srcW - storedW) <= (float)r.Tolerance * storedW ? WarpOutcome.Sampled : WarpOutcome.Disoccluded;
        }

        [TestCase(false)]
        [TestCase(true)]
        public void SinglePrecisionAgreesWithTheReferenceAtGameScale(bool reversedZ)
        {
            // Unity's defaults (near 0.3, far 1000), a camera 500 units from the origin, background at 50 and an
            // occluder at 10: in float the shader must classify every pixel as the double-precision reference does
            // and sample the same texel.
            const int w = 64, h = 48;
            Matrix4 p = Matrix4.PerspectiveGl(60, (double)w / h, 0.3, 1000);
            if (reversedZ)
            {
                var e = new double[16];
                p.CopyRowMajor(e, 0);
                for (int k = 0; k < 4; k++) e[8 + k] = 0.5 * e[12 + k] - 0.5 * e[8 + k];
                p = Matrix4.FromRowMajor(e);
            }
            double move = 2.0 * 1 * 50 / (w * p[0, 0]); // background shifts 1 pixel, the occluder 5
            Matrix4 src = p.Multiply(Matrix4.Translation(-500, -20, -500));
            Matrix4 dst = p.Multiply(Matrix4.Translation(-500 - move, -20, -500));
            var r = new Reprojector(src, dst);
            double dBg = DeviceDepth(p, 50), dOcc = DeviceDepth(p, 10);
            const int a = 20, b = 32, occShift = 5;
            var sourceDepth = new ImageBuffer(w, h, 1);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) sourceDepth.Set(x, y, 0, (float)(x >= a && x < b ? dOcc : dBg));
            int compared = 0;
            for (int y = 0; y < h; y++)
            {
                for (int x = 0; x < w; x++)
                {
                    double dCur = x >= a - occShift && x < b - occShift ? dOcc : dBg;
                    double u = (x + 0.5) / w, v = (y + 0.5) / h, ru, rv;
                    WarpOutcome reference = ReprojectionWarp.WarpPixel(r, u, v, dCur, sourceDepth, null, out ru, out rv);
                    float su, sv;
                    double sud, svd, szd, swd;
                    r.TryProject(u, v, dCur, out sud, out svd, out szd, out swd);
                    int tx, ty;
                    sourceDepth.NearestTexel(sud, svd, out tx, out ty);
                    WarpOutcome single = FloatWarp(r, (float)u, (float)v, (float)dCur, sourceDepth.Get(tx, ty, 0), out su, out sv);
                    string at = "pixel " + x + "," + y;
                    Assert.AreEqual(reference, single, at);
                    if (reference != WarpOutcome.Sampled) continue;
                    Assert.AreEqual(Math.Floor(ru * w), Math.Floor(su * w), at + " column");
                    Assert.AreEqual(Math.Floor(rv * h), Math.Floor(sv * h), at + " row");
                    compared++;
                }
            }
            Assert.Greater(compared, w * h / 2);
        }

        // ------------------------------------------------------------------ history

        [Test]
        public void HistoryKeepsTheNewestAndDropsTheOldest()
        {
            var h = new CameraHistory(3);
            for (ulong id = 1; id <= 5; id++)
            {
                h.Record(new CameraRecord { FrameId = id, ViewProjection = Matrix4.Translation(id, 0, 0), DepthSlot = (int)id });
            }
            CameraRecord rec;
            Assert.IsFalse(h.TryGet(1, out rec));
            Assert.IsFalse(h.TryGet(2, out rec));
            Assert.IsTrue(h.TryGet(3, out rec));
            Assert.AreEqual(3.0, rec.ViewProjection[0, 3]);
            Assert.IsTrue(h.TryGet(5, out rec));
            Assert.AreEqual(5, rec.DepthSlot);
            Assert.AreEqual(3, h.Count);
            h.Clear();
            Assert.AreEqual(0, h.Count);
            Assert.IsFalse(h.TryGet(5, out rec));
        }

        [Test]
        public void HistoryReplacesARecordOfTheSameFrame()
        {
            var h = new CameraHistory(2);
            h.Record(new CameraRecord { FrameId = 7, ViewProjection = Matrix4.Identity, DepthSlot = 1 });
            h.Record(new CameraRecord { FrameId = 7, ViewProjection = Matrix4.Identity, DepthSlot = 2 });
            h.Record(new CameraRecord { FrameId = 8, ViewProjection = Matrix4.Identity, DepthSlot = 3 });
            CameraRecord rec;
            Assert.IsTrue(h.TryGet(7, out rec));
            Assert.AreEqual(2, rec.DepthSlot);
            Assert.AreEqual(2, h.Count);
        }

        [Test]
        public void HistoryRejectsAMissingMatrixAndABadCapacity()
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => new CameraHistory(0));
            var h = new CameraHistory(2);
            Assert.Throws<ArgumentNullException>(() => h.Record(new CameraRecord { FrameId = 1 }));
        }
    }
}
