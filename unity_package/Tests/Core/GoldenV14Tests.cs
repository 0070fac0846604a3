// Protocol 1.4 in the C# codec, both ways against flatc's golden bytes (schemas/golden/*.bin, values in their .json):
// Params with the ControlNet, temporal, IP-Adapter and style fields; the Welcome's capacity and wanted planes; the
// WantedPlanesChanged notice; StyleImage; Frame.scene_cut with and without planes; plus lora_weights (protocol 1.2, no
// golden file) round trip; the cached-attention knobs (params_v14_attention).
// Compiled and run here with mono + NUnit 2.6; uses only NUnit API that Unity's NUnit 3.5 also has.
using System;
using System.Collections.Generic;
using System.IO;
using NUnit.Framework;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Protocol;

namespace StreamDiffusion.Bridge.Core.Tests
{
    [TestFixture]
    public class GoldenV14Tests : GoldenFixture
    {
        private static List<AdapterWeightData> W(params object[] pairs)
        {
            var list = new List<AdapterWeightData>();
            for (int i = 0; i < pairs.Length; i += 2) list.Add(new AdapterWeightData((string)pairs[i], (float)pairs[i + 1]));
            return list;
        }

        private static void AssertWeights(List<AdapterWeightData> expected, List<AdapterWeightData> actual, string what)
        {
            Assert.IsNotNull(actual, what);
            Assert.AreEqual(expected.Count, actual.Count, what);
            for (int i = 0; i < expected.Count; i++)
            {
                Assert.AreEqual(expected[i].Name, actual[i].Name, what + " " + i);
                Assert.AreEqual(expected[i].Weight, actual[i].Weight, what + " " + i);
            }
        }

        internal static ParamsMessage ParamsV14()
        {
            return new ParamsMessage
            {
                ControlnetScale = W("depth", 0.75f, "canny", 1.25f),
                ControlnetStart = W("depth", 0.25f),
                ControlnetEnd = W("depth", 0.875f),
                LatentFeedback = 0.25f,
                MotionWarp = 0.5f,
                MotionWarpStep = 1,
                SceneCutThreshold = 0.375f,
                IpAdapterScale = 0.625f,
                StyleBlend = W("watercolor", 0.75f, "ink", 0.25f),
                StreamId = 1,
            };
        }

        private static FrameHeader SceneCutFrame(ulong frameId)
        {
            FrameHeader f = GoldenFrame(frameId);
            f.SceneCut = true;
            return f;
        }

        [Test]
        public void ParamsEncodeAndDecode()
        {
            AssertEncodes(_codec.Encode(ParamsV14()), "params_v14.bin");
            var p = DecodeGolden<ParamsMessage>("params_v14.bin");
            Assert.AreEqual(1046528u, p.SetMask);
            AssertWeights(W("depth", 0.75f, "canny", 1.25f), p.ControlnetScale, "ControlnetScale");
            AssertWeights(W("depth", 0.25f), p.ControlnetStart, "ControlnetStart");
            AssertWeights(W("depth", 0.875f), p.ControlnetEnd, "ControlnetEnd");
            AssertWeights(W("watercolor", 0.75f, "ink", 0.25f), p.StyleBlend, "StyleBlend");
            Assert.AreEqual(0.25f, p.LatentFeedback);
            Assert.AreEqual(0.5f, p.MotionWarp);
            Assert.AreEqual(1u, p.MotionWarpStep);
            Assert.AreEqual(0.375f, p.SceneCutThreshold);
            Assert.AreEqual(0.625f, p.IpAdapterScale);
            Assert.IsNull(p.LoraWeights);
            Assert.IsNull(p.GuidanceScale);
        }

        [Test]
        public void CachedAttentionParamsEncodeAndDecode()
        {
            var m = new ParamsMessage
            {
                AttentionBank = 2, AttentionBankInterval = 3, AttentionBankBlocks = AttentionBankBlocks.Up,
                FeatureInjection = 0.5f, FeatureInjectionThreshold = 0.875f, StreamId = 1,
            };
            AssertEncodes(_codec.Encode(m), "params_v14_attention.bin");
            var p = DecodeGolden<ParamsMessage>("params_v14_attention.bin");
            Assert.AreEqual(32505856u, p.SetMask);
            Assert.AreEqual(2u, p.AttentionBank);
            Assert.AreEqual(3u, p.AttentionBankInterval);
            Assert.AreEqual(AttentionBankBlocks.Up, p.AttentionBankBlocks);
            Assert.AreEqual(0.5f, p.FeatureInjection);
            Assert.AreEqual(0.875f, p.FeatureInjectionThreshold);
            Assert.IsNull(p.LatentFeedback);
            var older = DecodeGolden<ParamsMessage>("params_v14.bin");  // none of the knobs set: all left null
            Assert.IsNull(older.AttentionBank);
            Assert.IsNull(older.AttentionBankBlocks);
            Assert.IsNull(older.FeatureInjectionThreshold);
        }

        [Test]
        public void WarpedBankParamEncodesAndDecodes()  // protocol 1.5; a member generated from the schema
        {
            var m = new ParamsMessage { AttentionBank = 2, AttentionBankWarp = true, StreamId = 1 };
            AssertEncodes(_codec.Encode(m), "params_v15.bin");
            var p = DecodeGolden<ParamsMessage>("params_v15.bin");
            Assert.AreEqual((uint)(ParamsField.AttentionBank | ParamsField.AttentionBankWarp), p.SetMask);
            Assert.AreEqual(true, p.AttentionBankWarp);
            Assert.AreEqual(2u, p.AttentionBank);
            Assert.IsNull(DecodeGolden<ParamsMessage>("params_v14_attention.bin").AttentionBankWarp);
        }

        [Test]
        public void WelcomeCarriesCapacityAndWantedPlanes()
        {
            WelcomeMessage w = GoldenWelcome();  // welcome.json's server at protocol 1.4, with capacity and planes
            w.ProtocolMinor = 4;
            w.Capabilities = 1619;
            w.Warning = "";
            w.SessionsOpen = 3;
            w.SessionsMax = 8;
            w.WantedPlanes = new[] { PlaneKind.Depth, PlaneKind.Motion };
            AssertEncodes(_codec.Encode(w), "welcome_capacity.bin");
            var back = DecodeGolden<WelcomeMessage>("welcome_capacity.bin");
            Assert.AreEqual(3u, back.SessionsOpen);
            Assert.AreEqual(8u, back.SessionsMax);
            CollectionAssert.AreEqual(new[] { PlaneKind.Depth, PlaneKind.Motion }, back.WantedPlanes);
            Assert.AreNotEqual(0u, back.Capabilities & (uint)Capability.StyleImages);
            var old = DecodeGolden<WelcomeMessage>("welcome.bin");  // protocol 1.0: no capacity, no planes
            Assert.AreEqual(0u, old.SessionsMax);
            Assert.AreEqual(0, old.WantedPlanes.Length);
        }

        [Test]
        public void WantedPlanesNotice()
        {
            var n = new NoticeMessage
            {
                Kind = NoticeKind.WantedPlanesChanged, Message = "the server now uses these planes: Depth, Motion",
                Source = "params", WantedPlanes = new[] { PlaneKind.Depth, PlaneKind.Motion },
            };
            AssertEncodes(_codec.Encode(n), "notice_wanted_planes.bin");
            var back = DecodeGolden<NoticeMessage>("notice_wanted_planes.bin");
            Assert.AreEqual(NoticeKind.WantedPlanesChanged, back.Kind);
            CollectionAssert.AreEqual(new[] { PlaneKind.Depth, PlaneKind.Motion }, back.WantedPlanes);
        }

        [Test]
        public void StyleImageAndItsPixels()
        {
            var s = new StyleImageMessage
            {
                Name = "watercolor", Width = 4, Height = 2, Stride = 16, Format = PixelFormat.RGB8, RowOrder = RowOrder.BottomUp,
            };
            AssertEncodes(_codec.Encode(s), "style_image.bin");
            var back = DecodeGolden<StyleImageMessage>("style_image.bin");
            Assert.AreEqual("watercolor", back.Name);
            Assert.AreEqual(4u, back.Width);
            Assert.AreEqual(2u, back.Height);
            Assert.AreEqual(16u, back.Stride);
            Assert.AreEqual(PixelFormat.RGB8, back.Format);
            Assert.AreEqual(RowOrder.BottomUp, back.RowOrder);
            Assert.AreEqual(back.Stride * back.Height, (uint)Golden("style_image.pixels.bin").Length);
        }

        [Test]
        public void FrameSceneCut()
        {
            FrameHeader plain = SceneCutFrame(30);
            AssertEncodes(_codec.EncodeFrame(ref plain), "frame_scene_cut.bin");
            FrameHeader withMotion = SceneCutFrame(31);
            withMotion.Planes = new[]
            {
                new PlaneDescription
                {
                    Kind = PlaneKind.Motion, Format = PlaneFormat.RG16F, Width = 4, Height = 2, Stride = 16,
                    RowOrder = RowOrder.TopDown, MotionUnits = MotionUnits.Pixels, MotionTarget = MotionTarget.Previous,
                },
            };
            AssertEncodes(_codec.EncodeFrame(ref withMotion), "frame_scene_cut_planes.bin");
            FrameHeader back;
            _codec.DecodeFrame(new ArraySegment<byte>(Golden("frame_scene_cut_planes.bin")), out back);
            Assert.IsTrue(back.SceneCut);
            Assert.AreEqual(1, back.Planes.Length);
            Assert.AreEqual(PlaneKind.Motion, back.Planes[0].Kind);
            _codec.DecodeFrame(new ArraySegment<byte>(Golden("frame_rgba8.bin")), out back);
            Assert.IsFalse(back.SceneCut);
        }

        [Test]
        public void LoraWeightsRoundTrip()
        {
            var p = new ParamsMessage { LoraWeights = W("ink_style", 0.5f, "pixel_art", 1.0f) };
            Assert.AreEqual((uint)ParamsField.LoraWeights, p.SetMask);
            ArraySegment<byte> encoded = _codec.Encode(p);
            var bytes = new byte[encoded.Count];
            Array.Copy(encoded.Array, encoded.Offset, bytes, 0, bytes.Length);
            var back = (ParamsMessage)_codec.Decode(new ArraySegment<byte>(bytes));
            AssertWeights(W("ink_style", 0.5f, "pixel_art", 1.0f), back.LoraWeights, "LoraWeights");
        }
    }
}
