// Protocol 1.3 Frame planes in the C# codec: a frame with planes encodes to flatc's golden bytes
// (schemas/golden/frame_plane_*.bin) and decodes back to the same descriptions; a frame without planes is unchanged.
using System;
using System.IO;
using NUnit.Framework;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Protocol;

namespace StreamDiffusion.Bridge.Core.Tests
{
    [TestFixture]
    public class PlaneGoldenTests : GoldenFixture
    {
        private static FrameHeader Frame(ulong frameId, params PlaneDescription[] planes)
        {
            FrameHeader f = GoldenFrame(frameId);
            f.Planes = planes;
            return f;
        }

        private static PlaneDescription Depth()
        {
            PlaneDescription p = PlaneDescription.Packed(PlaneKind.Depth, PlaneFormat.R32F, 2, 1);
            p.DepthEncoding = DepthEncoding.Device; p.ReversedZ = true; p.DepthNear = 0.25f; p.DepthFar = 1000f;
            return p;
        }

        private static PlaneDescription Normals()
        {
            PlaneDescription p = PlaneDescription.Packed(PlaneKind.Normals, PlaneFormat.RGBA16F, 4, 2);
            p.RowOrder = RowOrder.BottomUp; p.NormalSpace = NormalSpace.View; p.NormalEncoding = NormalEncoding.Signed;
            return p;
        }

        private static PlaneDescription Segmentation()
        {
            PlaneDescription p = PlaneDescription.Packed(PlaneKind.Segmentation, PlaneFormat.R16UI, 4, 2);
            p.Name = "instance";
            return p;
        }

        private static PlaneDescription Motion()
        {
            PlaneDescription p = PlaneDescription.Packed(PlaneKind.Motion, PlaneFormat.RG16F, 4, 2);
            p.MotionUnits = MotionUnits.Pixels; p.MotionTarget = MotionTarget.Previous; p.MotionYUp = true;
            return p;
        }

        private static PlaneDescription Control()
        {
            PlaneDescription p = PlaneDescription.Packed(PlaneKind.Control, PlaneFormat.RGBA8, 4, 2);
            p.Name = "pose";
            return p;
        }

        private static void AssertSame(PlaneDescription want, PlaneDescription got, string where)
        {
            Assert.AreEqual(want.Kind, got.Kind, where);
            Assert.AreEqual(want.Format, got.Format, where);
            Assert.AreEqual(new[] { want.Width, want.Height, want.Stride }, new[] { got.Width, got.Height, got.Stride }, where);
            Assert.AreEqual(want.RowOrder, got.RowOrder, where);
            Assert.AreEqual(want.DepthEncoding, got.DepthEncoding, where);
            Assert.AreEqual(want.ReversedZ, got.ReversedZ, where);
            Assert.AreEqual(want.DepthNear, got.DepthNear, where);
            Assert.AreEqual(want.DepthFar, got.DepthFar, where);
            Assert.AreEqual(want.NormalSpace, got.NormalSpace, where);
            Assert.AreEqual(want.NormalEncoding, got.NormalEncoding, where);
            Assert.AreEqual(want.MotionUnits, got.MotionUnits, where);
            Assert.AreEqual(want.MotionTarget, got.MotionTarget, where);
            Assert.AreEqual(want.MotionYUp, got.MotionYUp, where);
            Assert.AreEqual(want.Name, got.Name, where);
        }

        private void BothWays(string name, FrameHeader h)
        {
            AssertEncodes(_codec.EncodeFrame(ref h), name + ".bin");
            FrameHeader d;
            _codec.DecodeFrame(new ArraySegment<byte>(Golden(name + ".bin")), out d);
            Assert.AreEqual(h.FrameId, d.FrameId, name);
            Assert.AreEqual(h.Planes.Length, d.Planes.Length, name);
            for (int i = 0; i < h.Planes.Length; i++)
            {
                AssertSame(h.Planes[i], d.Planes[i], name + " plane " + i);
                byte[] part = Golden(name + ".plane" + i + ".bin");
                Assert.AreEqual(d.Planes[i].ByteCount, part.Length, name + " plane part " + i);
            }
        }

        [Test]
        public void EachPlaneKindBothWays()
        {
            BothWays("frame_plane_depth", Frame(10, Depth()));
            BothWays("frame_plane_normals", Frame(11, Normals()));
            BothWays("frame_plane_segmentation", Frame(12, Segmentation()));
            BothWays("frame_plane_motion", Frame(13, Motion()));
            BothWays("frame_plane_control", Frame(14, Control()));
        }

        [Test]
        public void TwoPlanesInOneFrameBothWays()
        {
            PlaneDescription depth = Depth();
            depth.DepthEncoding = DepthEncoding.Linear; depth.ReversedZ = false; depth.DepthNear = 0.5f; depth.DepthFar = 250f;
            PlaneDescription motion = Motion();
            motion.MotionUnits = MotionUnits.UV; motion.MotionTarget = MotionTarget.Next; motion.MotionYUp = false;
            BothWays("frame_planes_depth_motion", Frame(20, depth, motion));
        }

        [Test]
        public void AFrameWithoutPlanesDecodesWithNone()
        {
            FrameHeader d;
            _codec.DecodeFrame(new ArraySegment<byte>(Golden("frame_rgba8.bin")), out d);
            Assert.IsNull(d.Planes);
            FrameHeader empty = Frame(1234567890123UL);  // an empty array is no planes: the 1.2 bytes
            ArraySegment<byte> encoded = _codec.EncodeFrame(ref empty);
            Assert.AreEqual(Golden("frame_rgba8.bin").Length, encoded.Count);
        }

        [Test]
        public void BytesPerPixelMatchesTheSchema()
        {
            Assert.AreEqual(2, PlaneFormats.BytesPerPixel(PlaneFormat.R16F));
            Assert.AreEqual(8, PlaneFormats.BytesPerPixel(PlaneFormat.RGBA16F));
            Assert.AreEqual(8u, PlaneDescription.Packed(PlaneKind.Depth, PlaneFormat.R32F, 2, 1).Stride);
            Assert.Throws<ArgumentOutOfRangeException>(() => PlaneFormats.BytesPerPixel(PlaneFormat.Unknown));
        }
    }
}
