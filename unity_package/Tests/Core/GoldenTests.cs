// Golden bytes both ways (schemas/golden/, produced by flatc 2.0.8 -b from the .json beside each .bin):
// the C# codec must encode the README's values to exactly those bytes and decode the bytes to those values.
// The values below are those of schemas/golden/*.json.
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
    public class GoldenTests : GoldenFixture
    {
        private static readonly object[][] FrameCases =
        {
            new object[] { "frame_rgba8", 1234567890123UL, PixelFormat.RGBA8, RowOrder.TopDown, ColorSpace.SRGB, AlphaMode.Ignore },
            new object[] { "frame_bgra8", 2UL, PixelFormat.BGRA8, RowOrder.BottomUp, ColorSpace.Linear, AlphaMode.Premultiplied },
            new object[] { "frame_rgb8", 3UL, PixelFormat.RGB8, RowOrder.TopDown, ColorSpace.SRGB, AlphaMode.Straight },
        };

        [Test]
        public void FramesBothWays()
        {
            foreach (object[] c in FrameCases)
            {
                string name = (string)c[0];
                FrameHeader h = GoldenFrame((ulong)c[1], (PixelFormat)c[2], (RowOrder)c[3], (ColorSpace)c[4], (AlphaMode)c[5]);
                AssertEncodes(_codec.EncodeFrame(ref h), name + ".bin");
                FrameHeader d;
                _codec.DecodeFrame(new ArraySegment<byte>(Golden(name + ".bin")), out d);
                Assert.AreEqual(h, d, name);
                byte[] pixels = Golden(name + ".pixels.bin");
                Assert.AreEqual(BridgeCodec.ExpectedPixelBytes(d.Width, d.Height, d.Stride, d.PixelFormat), pixels.Length);
                for (int k = 0; k < pixels.Length; k++) Assert.AreEqual((byte)((k * 37 + 11) % 256), pixels[k], name + " pixel byte " + k);
            }
        }

        [Test]
        public void ResultBothWays()
        {
            var h = new ResultHeader
            {
                SessionId = Session, StreamId = 1, FrameId = 1234567890123UL, Width = 4, Height = 2, Stride = 16,
                PixelFormat = PixelFormat.RGBA8, RowOrder = RowOrder.TopDown, ColorSpace = ColorSpace.SRGB,
                AlphaMode = AlphaMode.Ignore, CaptureTimeUs = 1700000000000000UL, SendTimeUs = 1700000000000250UL,
                QueueWaitUs = 120, InferenceUs = 45000, EncodeUs = 300, IsWarmup = true, Skipped = false,
                SourceFrameId = 1234567890122UL, CreditsGranted = 1,
            };
            AssertEncodes(_codec.EncodeResult(ref h), "result_rgba8.bin");
            ResultHeader d;
            _codec.DecodeResult(new ArraySegment<byte>(Golden("result_rgba8.bin")), out d);
            Assert.AreEqual(h, d);
            Assert.AreEqual(Message.Result, _codec.ReadType(new ArraySegment<byte>(Golden("result_rgba8.bin"))));
        }

        [Test]
        public void HelloBothWays()
        {
            var m = new HelloMessage
            {
                ProtocolMajor = 1, ProtocolMinor = 0, ClientName = "golden-client", ClientVersion = "0.1.0",
                EngineName = "Unity", EngineVersion = "2022.3.10f1", Capabilities = 255,
                PixelFormats = new[] { PixelFormat.RGBA8, PixelFormat.BGRA8, PixelFormat.RGB8 },
            };
            AssertEncodes(_codec.Encode(m), "hello.bin");
            var d = DecodeGolden<HelloMessage>("hello.bin");
            Assert.AreEqual(1, d.ProtocolMajor);
            Assert.AreEqual(0, d.ProtocolMinor);
            Assert.AreEqual("golden-client", d.ClientName);
            Assert.AreEqual("0.1.0", d.ClientVersion);
            Assert.AreEqual("Unity", d.EngineName);
            Assert.AreEqual("2022.3.10f1", d.EngineVersion);
            Assert.AreEqual(255u, d.Capabilities);
            Assert.AreEqual(m.PixelFormats, d.PixelFormats);
        }

        [Test]
        public void WelcomeBothWays()
        {
            WelcomeMessage m = GoldenWelcome();
            AssertEncodes(_codec.Encode(m), "welcome.bin");
            var d = DecodeGolden<WelcomeMessage>("welcome.bin");
            Assert.AreEqual(Session, d.SessionId);
            Assert.AreEqual("0.1.0", d.ServerVersion);
            Assert.AreEqual(83u, d.Capabilities);
            Assert.AreEqual(2u, d.InitialCredits);
            Assert.AreEqual(2048u, d.MaxWidth);
            Assert.AreEqual(2048u, d.MaxHeight);
            Assert.AreEqual(16781312u, d.MaxMessageBytes);
            Assert.AreEqual(1u, d.LatencyFrames);
            Assert.AreEqual("tiny", d.Model.Name);
            Assert.AreEqual(ModelFamily.SD15, d.Model.Family);
            Assert.AreEqual(256u, d.Model.Width);
            Assert.AreEqual(256u, d.Model.Height);
            Assert.AreEqual(1000u, d.HeartbeatIntervalMs);
            Assert.AreEqual(m.PixelFormats, d.PixelFormats);
            Assert.AreEqual(m.Warning, d.Warning);
        }

        [Test]
        public void ErrorBothWays()
        {
            var m = new ErrorMessage
            {
                Code = ErrorCode.BadPixelSize,
                Message = "pixel part has 31 bytes but stride x height = 16 x 2 = 32 bytes",
                Field = "Frame.stride", FrameId = 42, HasFrameId = true, SessionClosed = false,
            };
            AssertEncodes(_codec.Encode(m), "error.bin");
            var d = DecodeGolden<ErrorMessage>("error.bin");
            Assert.AreEqual(ErrorCode.BadPixelSize, d.Code);
            Assert.AreEqual(m.Message, d.Message);
            Assert.AreEqual("Frame.stride", d.Field);
            Assert.AreEqual(42UL, d.FrameId);
            Assert.IsTrue(d.HasFrameId);
            Assert.IsFalse(d.SessionClosed);
        }

        [Test]
        public void PromptBothWays()
        {
            var m = new PromptMessage
            {
                Text = "a watercolor castle", Negative = "blurry, low quality",
                Blend = new List<PromptWeightData>
                {
                    new PromptWeightData("a watercolor castle", 0.75f),
                    new PromptWeightData("a neon city at night", 0.25f),
                },
                TransitionFrames = 30, TransitionSeconds = 0.5f, Method = BlendMethod.Slerp, StreamId = 1,
            };
            AssertEncodes(_codec.Encode(m), "prompt.bin");
            var d = DecodeGolden<PromptMessage>("prompt.bin");
            Assert.AreEqual(m.Text, d.Text);
            Assert.AreEqual(m.Negative, d.Negative);
            Assert.AreEqual(m.Blend, d.Blend);
            Assert.AreEqual(30u, d.TransitionFrames);
            Assert.AreEqual(0.5f, d.TransitionSeconds);
            Assert.AreEqual(BlendMethod.Slerp, d.Method);
            Assert.AreEqual(1u, d.StreamId);
        }

        [Test]
        public void ParamsBothWays()
        {
            var m = new ParamsMessage
            {
                GuidanceScale = 1.25f, Delta = 0.5f, TIndexList = new[] { 32, 45 }, Seed = 2,
                SimilarityFilterEnabled = true, SimilarityThreshold = 0.875f, SimilarityMaxSkip = 10,
                SeedBlend = new List<SeedWeightData> { new SeedWeightData(2, 0.75f), new SeedWeightData(3, 0.25f) },
                StreamId = 1,
            };
            Assert.AreEqual(255u, m.SetMask);
            AssertEncodes(_codec.Encode(m), "params.bin");
            var d = DecodeGolden<ParamsMessage>("params.bin");
            Assert.AreEqual(255u, d.SetMask);
            Assert.AreEqual(1.25f, d.GuidanceScale);
            Assert.AreEqual(0.5f, d.Delta);
            Assert.AreEqual(new[] { 32, 45 }, d.TIndexList);
            Assert.AreEqual(2UL, d.Seed);
            Assert.AreEqual(true, d.SimilarityFilterEnabled);
            Assert.AreEqual(0.875f, d.SimilarityThreshold);
            Assert.AreEqual(10u, d.SimilarityMaxSkip);
            Assert.AreEqual(m.SeedBlend, d.SeedBlend);
            Assert.AreEqual(1u, d.StreamId);
        }

        [Test]
        public void PartialParamsLeaveUnsetFieldsNull()
        {
            var m = new ParamsMessage { GuidanceScale = 1.25f, Seed = 0 };
            Assert.AreEqual(9u, m.SetMask);
            AssertEncodes(_codec.Encode(m), "params_partial.bin");
            var d = DecodeGolden<ParamsMessage>("params_partial.bin");
            Assert.AreEqual(9u, d.SetMask);
            Assert.AreEqual(1.25f, d.GuidanceScale);
            Assert.AreEqual(0UL, d.Seed);
            Assert.IsNull(d.Delta);
            Assert.IsNull(d.TIndexList);
            Assert.IsNull(d.SimilarityFilterEnabled);
            Assert.IsNull(d.SeedBlend);
        }

        [Test]
        public void CfgModeAndTxt2imgParamsBothWays()  // protocol 1.2
        {
            var m = new ParamsMessage { Seed = 7, CfgMode = CfgMode.Self, Txt2img = true };
            Assert.AreEqual(776u, m.SetMask);
            AssertEncodes(_codec.Encode(m), "params_txt2img.bin");
            var d = DecodeGolden<ParamsMessage>("params_txt2img.bin");
            Assert.AreEqual(CfgMode.Self, d.CfgMode);
            Assert.AreEqual(true, d.Txt2img);
            Assert.AreEqual(7UL, d.Seed);
            Assert.IsNull(d.GuidanceScale);
        }

        [Test]
        public void GameEventBothWays()
        {
            var m = new GameEventMessage
            {
                Name = "enter_zone",
                Payload = new List<KeyValueData>
                {
                    KeyValueData.Of("biome", "forest"), KeyValueData.Of("danger", -3L),
                    KeyValueData.Of("fog", 0.25), KeyValueData.Of("night", true),
                },
                ClientTimeUs = 1700000000001000UL, FrameId = 99,
            };
            AssertEncodes(_codec.Encode(m), "game_event.bin");
            var d = DecodeGolden<GameEventMessage>("game_event.bin");
            Assert.AreEqual("enter_zone", d.Name);
            Assert.AreEqual(4, d.Payload.Count);
            Assert.AreEqual("forest", d.Payload[0].Value);
            Assert.AreEqual(-3L, d.Payload[1].Value);
            Assert.AreEqual(0.25, d.Payload[2].Value);
            Assert.AreEqual(true, d.Payload[3].Value);
            Assert.AreEqual("night", d.Payload[3].Key);
            Assert.AreEqual(1700000000001000UL, d.ClientTimeUs);
            Assert.AreEqual(99UL, d.FrameId);
        }

        [Test]
        public void StateBothWays()
        {
            var m = new StateMessage
            {
                Entries = new List<KeyValueData> { KeyValueData.Of("health", 75L), KeyValueData.Of("weather", "rain") },
                ReplaceAll = true, ClientTimeUs = 1700000000002000UL,
            };
            AssertEncodes(_codec.Encode(m), "state.bin");
            var d = DecodeGolden<StateMessage>("state.bin");
            Assert.AreEqual(2, d.Entries.Count);
            Assert.AreEqual("health", d.Entries[0].Key);
            Assert.AreEqual(75L, d.Entries[0].Value);
            Assert.AreEqual("rain", d.Entries[1].Value);
            Assert.IsTrue(d.ReplaceAll);
            Assert.AreEqual(1700000000002000UL, d.ClientTimeUs);
        }

        [Test]
        public void StatsBothWays()
        {
            AssertEncodes(_codec.EncodeStatsRequest(7), "stats_request.bin");
            Assert.AreEqual(7u, DecodeGolden<StatsRequestMessage>("stats_request.bin").RequestId);
            var m = new StatsMessage
            {
                RequestId = 7, SessionId = Session, FramesIn = 1000, FramesOut = 990, FramesDropped = 8,
                FramesSkipped = 2, FpsIn = 60f, FpsOut = 59.5f, LatencyP50Us = 16000, LatencyP99Us = 33000,
                InferenceP50Us = 12000, UptimeS = 17.25f,
            };
            AssertEncodes(_codec.Encode(m), "stats.bin");
            var d = DecodeGolden<StatsMessage>("stats.bin");
            Assert.AreEqual(7u, d.RequestId);
            Assert.AreEqual(Session, d.SessionId);
            Assert.AreEqual(1000UL, d.FramesIn);
            Assert.AreEqual(990UL, d.FramesOut);
            Assert.AreEqual(8UL, d.FramesDropped);
            Assert.AreEqual(2UL, d.FramesSkipped);
            Assert.AreEqual(60f, d.FpsIn);
            Assert.AreEqual(59.5f, d.FpsOut);
            Assert.AreEqual(16000u, d.LatencyP50Us);
            Assert.AreEqual(33000u, d.LatencyP99Us);
            Assert.AreEqual(12000u, d.InferenceP50Us);
            Assert.AreEqual(17.25f, d.UptimeS);
        }

        [Test]
        public void SmallMessagesBothWays()
        {
            AssertEncodes(_codec.Encode(new ByeMessage { Reason = "client closing" }), "bye.bin");
            Assert.AreEqual("client closing", DecodeGolden<ByeMessage>("bye.bin").Reason);
            AssertEncodes(_codec.EncodeCredit(1), "credit.bin");
            Assert.AreEqual(1u, _codec.DecodeCredit(new ArraySegment<byte>(Golden("credit.bin"))));
            AssertEncodes(_codec.EncodePing(5, 1700000000003000UL), "ping.bin");
            var ping = DecodeGolden<PingMessage>("ping.bin");
            Assert.AreEqual(5UL, ping.Nonce);
            Assert.AreEqual(1700000000003000UL, ping.ClientTimeUs);
            var pong = new PongMessage { Nonce = 5, ClientTimeUs = 1700000000003000UL, ServerTimeUs = 1700000000003100UL };
            AssertEncodes(_codec.Encode(pong), "pong.bin");
            var d = DecodeGolden<PongMessage>("pong.bin");
            Assert.AreEqual(5UL, d.Nonce);
            Assert.AreEqual(1700000000003100UL, d.ServerTimeUs);
        }

        [Test]
        public void NoticeBothWays()
        {
            var m = new NoticeMessage
            {
                Kind = NoticeKind.PromptChanged, Message = "prompt changed by the preview page", Source = "preview",
                Prompt = new PromptMessage { Text = "a snowy forest", Negative = "people" },
            };
            AssertEncodes(_codec.Encode(m), "notice.bin");
            var d = DecodeGolden<NoticeMessage>("notice.bin");
            Assert.AreEqual(NoticeKind.PromptChanged, d.Kind);
            Assert.AreEqual(m.Message, d.Message);
            Assert.AreEqual("preview", d.Source);
            Assert.AreEqual("a snowy forest", d.Prompt.Text);
            Assert.AreEqual("people", d.Prompt.Negative);
            Assert.IsNull(d.Params);
            Assert.AreEqual("", d.PreviewUrl);
        }

        [Test]
        public void NoticePreviewUrlBothWays()
        {
            const string url = "http://127.0.0.1:8765/?session=81985529216486895&token=abc";
            var m = new NoticeMessage
            {
                Kind = NoticeKind.Info, Message = "preview page: " + url, Source = "preview", PreviewUrl = url,
            };
            AssertEncodes(_codec.Encode(m), "notice_preview.bin");
            var d = DecodeGolden<NoticeMessage>("notice_preview.bin");
            Assert.AreEqual(NoticeKind.Info, d.Kind);
            Assert.AreEqual(url, d.PreviewUrl);
            Assert.AreEqual(m.Message, d.Message);
            string address;
            Assert.IsTrue(StreamDiffusion.Bridge.Core.Client.PreviewPage.TryGetAddress(d, out address));
            Assert.AreEqual(url, address);
        }
    }
}
