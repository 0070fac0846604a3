// NUnit tests of the capture scale policy: Fit (letterbox, default), Crop and Stretch map a
// camera frame of any aspect onto the server's frame size, and the display mapping is the exact inverse.
using System;
using NUnit.Framework;
using StreamDiffusion.Bridge.Core.Capture;
using StreamDiffusion.Bridge.Core.Protocol;

namespace StreamDiffusion.Bridge.Core.Tests
{
    [TestFixture]
    public sealed class CaptureMappingTests
    {
        [Test]
        public void FitLetterboxesAWideFrameIntoASquare()
        {
            CaptureMapping m = CaptureMapping.Compute(1920, 1080, 512, 512, ScalePolicy.Fit);
            Assert.AreEqual(new PixelRect(0, 112, 512, 288).ToString(), m.TargetRect.ToString(), "288 = 1080 * 512 / 1920");
            double u, v;
            m.SourceFromTarget.Apply(0, 112.0 / 512, out u, out v);
            Assert.AreEqual(0, u, 1e-12);
            Assert.AreEqual(0, v, 1e-12, "the bar ends where the camera frame's top row begins");
            m.SourceFromTarget.Apply(1, 400.0 / 512, out u, out v);
            Assert.AreEqual(1, u, 1e-12);
            Assert.AreEqual(1, v, 1e-12);
            Assert.IsFalse(m.TargetContains(0.5, 0.1), "inside the top bar");
            Assert.IsTrue(m.TargetContains(0.5, 0.5));
        }

        [Test]
        public void FitPillarboxesATallFrame()
        {
            CaptureMapping m = CaptureMapping.Compute(600, 800, 512, 512, ScalePolicy.Fit);
            Assert.AreEqual(new PixelRect(64, 0, 384, 512).ToString(), m.TargetRect.ToString());
        }

        [Test]
        public void FitOfTheSameAspectCoversEverything()
        {
            CaptureMapping m = CaptureMapping.Compute(1024, 768, 512, 384, ScalePolicy.Fit);
            Assert.AreEqual(new PixelRect(0, 0, 512, 384).ToString(), m.TargetRect.ToString());
            Assert.AreEqual(1, m.SourceFromTarget.ScaleU, 1e-12);
            Assert.AreEqual(0, m.SourceFromTarget.BiasV, 1e-12);
        }

        [Test]
        public void CropCutsTheSidesAndKeepsTheAspect()
        {
            CaptureMapping m = CaptureMapping.Compute(1920, 1080, 512, 512, ScalePolicy.Crop);
            Assert.AreEqual(new PixelRect(0, 0, 512, 512).ToString(), m.TargetRect.ToString());
            double u0, v0, u1, v1;
            m.SourceFromTarget.Apply(0, 0, out u0, out v0);
            m.SourceFromTarget.Apply(1, 1, out u1, out v1);
            Assert.AreEqual(0, v0, 1e-12);
            Assert.AreEqual(1, v1, 1e-12);
            Assert.AreEqual(1080.0 / 1920, u1 - u0, 1e-12, "a square of the frame's height");
            Assert.AreEqual(0.5, (u0 + u1) / 2, 1e-12, "centred");
            // Aspect kept: one target pixel covers the same source pixel distance on both axes.
            Assert.AreEqual(m.SourceFromTarget.ScaleU * 1920 / 512, m.SourceFromTarget.ScaleV * 1080 / 512, 1e-9);
        }

        [Test]
        public void StretchIsTheIdentityInUv()
        {
            CaptureMapping m = CaptureMapping.Compute(1920, 1080, 512, 512, ScalePolicy.Stretch);
            Assert.AreEqual(UvScaleBias.Identity.ToString(), m.SourceFromTarget.ToString());
            Assert.AreEqual(UvScaleBias.Identity.ToString(), m.TargetFromSource.ToString());
        }

        [TestCase(ScalePolicy.Fit)]
        [TestCase(ScalePolicy.Crop)]
        [TestCase(ScalePolicy.Stretch)]
        public void DisplayMappingIsTheInverseOfTheCaptureMapping(ScalePolicy policy)
        {
            CaptureMapping m = CaptureMapping.Compute(1280, 720, 512, 448, policy);
            var rng = new Random(1);
            for (int i = 0; i < 100; i++)
            {
                double u = rng.NextDouble(), v = rng.NextDouble(), su, sv, tu, tv;
                m.SourceFromTarget.Apply(u, v, out su, out sv);
                m.TargetFromSource.Apply(su, sv, out tu, out tv);
                Assert.AreEqual(u, tu, 1e-12);
                Assert.AreEqual(v, tv, 1e-12);
            }
        }

        [Test]
        public void CaptureCentresOfTargetPixelsLandOnTheRightSourcePixels()
        {
            // Fit a 64x32 frame into 32x32: 2 source pixels per target pixel, 8-pixel bars above and below.
            CaptureMapping m = CaptureMapping.Compute(64, 32, 32, 32, ScalePolicy.Fit);
            Assert.AreEqual(new PixelRect(0, 8, 32, 16).ToString(), m.TargetRect.ToString());
            double u, v;
            m.SourceFromTarget.Apply((3 + 0.5) / 32, (8 + 0.5) / 32, out u, out v);
            Assert.AreEqual(7.0, u * 64, 1e-9, "target pixel 3 samples between source pixels 6 and 7");
            Assert.AreEqual(1.0, v * 32, 1e-9, "the first content row samples between source rows 0 and 1");
        }

        [Test]
        public void BadSizesAndPoliciesAreRefusedWithTheValue()
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => CaptureMapping.Compute(0, 10, 10, 10, ScalePolicy.Fit));
            StringAssert.Contains("0x10", e.Message);
            Assert.Throws<ArgumentOutOfRangeException>(() => CaptureMapping.Compute(10, 10, 10, 10, (ScalePolicy)7));
        }

        [Test]
        public void ServerFrameSizeFollowsTheWelcome()
        {
            int w, h;
            CaptureMapping.ServerFrameSize(null, 512, 512, out w, out h);
            Assert.AreEqual(new[] { 512, 512 }, new[] { w, h }, "no Welcome yet: the fallback");
            var welcome = new WelcomeMessage { Model = new ModelInfoData { Width = 768, Height = 512 } };
            CaptureMapping.ServerFrameSize(welcome, 512, 512, out w, out h);
            Assert.AreEqual(new[] { 768, 512 }, new[] { w, h }, "the model's size");
            welcome.MaxWidth = 640;
            CaptureMapping.ServerFrameSize(welcome, 512, 512, out w, out h);
            Assert.AreEqual(new[] { 640, 512 }, new[] { w, h }, "within the server's limits");
            welcome.Model = null;
            CaptureMapping.ServerFrameSize(welcome, 1024, 256, out w, out h);
            Assert.AreEqual(new[] { 640, 256 }, new[] { w, h });
        }
    }
}
