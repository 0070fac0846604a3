// Protocol 1.4 in the C# client against Tests~/Tools/busy_replica.py (a fake server that prints what it receives):
// SetParams with every new field and LoraWeights, refused at the call outside the registry ranges (the generated
// StreamParams); SendStyleImage (header and pixels); a scene-cut frame; the Welcome's capacity and wanted planes,
// updated by a WantedPlanesChanged notice; a reconnect replaying the style image before the params; and the real Python
// server (tiny model, tiny IP-Adapter) taking all of it and answering the frame.
// Compiled and run here with mono + NUnit 2.6.
using System;
using System.Collections.Generic;
using NUnit.Framework;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Protocol;

namespace StreamDiffusion.Bridge.Core.Tests
{
    [TestFixture]
    public class ClientV14Tests
    {
        private static BridgeClientOptions Options(int port)
        {
            return new BridgeClientOptions { Endpoint = "tcp://127.0.0.1:" + port, ClientName = "v14-tests" };
        }

        private static List<AdapterWeightData> W(string name, float weight)
        {
            return new List<AdapterWeightData> { new AdapterWeightData(name, weight) };
        }

        private static ParamsMessage AllNew()
        {
            return new ParamsMessage
            {
                LoraWeights = W("ink_style", 0.5f), ControlnetScale = W("depth", 0.75f), ControlnetStart = W("depth", 0.25f),
                ControlnetEnd = W("depth", 0.875f), LatentFeedback = 0.25f, MotionWarp = 0.5f, MotionWarpStep = 1,
                SceneCutThreshold = 0.375f, IpAdapterScale = 0.625f, StyleBlend = W("watercolor", 1.0f),
            };
        }

        private const string AllNewFields = "controlnet_end,controlnet_scale,controlnet_start,ip_adapter_scale," +
                                            "latent_feedback,lora_weights,motion_warp,motion_warp_step," +
                                            "scene_cut_threshold,style_blend";

        [Test]
        public void CachedAttentionKnobsOutsideTheRegistryRangesAreRefusedAtTheCall()
        {
            using (var client = new BridgeClient(Options(1)))  // never started: nothing could be sent anyway
            {
                var e = Assert.Throws<ArgumentOutOfRangeException>(() => client.SetParams(new ParamsMessage { AttentionBank = 9 }));
                StringAssert.Contains("Params.attention_bank = 9 is outside [0, 8]", e.Message);
                e = Assert.Throws<ArgumentOutOfRangeException>(() => client.SetParams(new ParamsMessage { AttentionBankInterval = 0 }));
                StringAssert.Contains("Params.attention_bank_interval = 0 is outside [1, 120]", e.Message);
                var blocks = Assert.Throws<ArgumentException>(() => client.SetParams(
                    new ParamsMessage { AttentionBankBlocks = AttentionBankBlocks.Unknown }));
                StringAssert.Contains("Params.attention_bank_blocks = Unknown", blocks.Message);
                e = Assert.Throws<ArgumentOutOfRangeException>(() => client.SetParams(new ParamsMessage { FeatureInjection = 1.5f }));
                StringAssert.Contains("Params.feature_injection = 1.5 is outside [0, 1]", e.Message);
                e = Assert.Throws<ArgumentOutOfRangeException>(() => client.SetParams(
                    new ParamsMessage { FeatureInjectionThreshold = float.NaN }));
                StringAssert.Contains("Params.feature_injection_threshold = NaN", e.Message);
                Assert.AreEqual(0, client.Counters.ControlMessagesDropped);
                client.SetParams(new ParamsMessage  // in range: accepted (queued)
                {
                    AttentionBank = 8, AttentionBankInterval = 120, AttentionBankBlocks = AttentionBankBlocks.Mid,
                    FeatureInjection = 1f, FeatureInjectionThreshold = 0f,
                });
            }
        }

        [Test]
        public void EnumParamsOutsideTheirMembersAreRefusedAtTheCallNamingTheChoices()
        {
            using (var client = new BridgeClient(Options(1)))  // never started: nothing could be sent anyway
            {
                var e = Assert.Throws<ArgumentException>(() => client.SetParams(new ParamsMessage { CfgMode = CfgMode.Unknown }));
                StringAssert.Contains("Params.cfg_mode = Unknown; use None, Self, Initialize or Full", e.Message);
                e = Assert.Throws<ArgumentException>(() => client.SetParams(new ParamsMessage { CfgMode = (CfgMode)9 }));
                StringAssert.Contains("Params.cfg_mode = 9; use None, Self, Initialize or Full", e.Message);
                e = Assert.Throws<ArgumentException>(() => client.SetParams(
                    new ParamsMessage { AttentionBankBlocks = (AttentionBankBlocks)7 }));
                StringAssert.Contains("Params.attention_bank_blocks = 7; use All, Down, Mid or Up", e.Message);
                // the last members are accepted (queued)
                client.SetParams(new ParamsMessage { CfgMode = CfgMode.Full, AttentionBankBlocks = AttentionBankBlocks.Up });
            }
        }

        [Test]
        public void CachedAttentionKnobsSurviveTheReplayMerge()
        {
            var first = new ParamsMessage { AttentionBank = 2, AttentionBankBlocks = AttentionBankBlocks.Down, FeatureInjection = 0.5f };
            var second = new ParamsMessage { AttentionBank = 4, AttentionBankInterval = 3, FeatureInjectionThreshold = 0.75f };
            ParamsMessage m = ControlMessages.Merge(ControlMessages.Merge(null, first), second);
            Assert.AreEqual(4u, m.AttentionBank);  // the newer one wins
            Assert.AreEqual(3u, m.AttentionBankInterval);
            Assert.AreEqual(AttentionBankBlocks.Down, m.AttentionBankBlocks);  // an older one not sent again is kept
            Assert.AreEqual(0.5f, m.FeatureInjection);
            Assert.AreEqual(0.75f, m.FeatureInjectionThreshold);
        }

        [Test]
        public void ParamsOutsideTheRegistryRangesAreRefusedAtTheCall()
        {
            using (var client = new BridgeClient(Options(1)))  // never started: nothing could be sent anyway
            {
                var e = Assert.Throws<ArgumentOutOfRangeException>(() => client.SetParams(new ParamsMessage { LatentFeedback = 0.75f }));
                StringAssert.Contains("Params.latent_feedback = 0.75 is outside [0, 0.5]", e.Message);
                e = Assert.Throws<ArgumentOutOfRangeException>(() => client.SetParams(new ParamsMessage { IpAdapterScale = float.NaN }));
                StringAssert.Contains("Params.ip_adapter_scale = NaN", e.Message);
                e = Assert.Throws<ArgumentOutOfRangeException>(() => client.SetParams(new ParamsMessage { MotionWarpStep = 50 }));
                StringAssert.Contains("Params.motion_warp_step = 50 is outside [0, 49]", e.Message);
                var scales = new List<AdapterWeightData> { new AdapterWeightData("depth", 1f), new AdapterWeightData("canny", 2.5f) };
                e = Assert.Throws<ArgumentOutOfRangeException>(() => client.SetParams(new ParamsMessage { ControlnetScale = scales }));
                StringAssert.Contains("Params.controlnet_scale[1] (canny) = 2.5 is outside [0, 2]", e.Message);
                var unnamed = Assert.Throws<ArgumentException>(() => client.SetParams(new ParamsMessage { StyleBlend = W("", 0.5f) }));
                StringAssert.Contains("Params.style_blend[0].name is empty", unnamed.Message);
                Assert.Throws<ArgumentOutOfRangeException>(() => client.SetParams(new ParamsMessage { LoraWeights = W("ink", -2.5f) }));
                var bytes = new byte[24];
                var bad = Assert.Throws<ArgumentException>(() => client.SendStyleImage("", bytes, 0, 4, 2, 12, PixelFormat.RGB8));
                StringAssert.Contains("name is empty", bad.Message);
                Assert.Throws<ArgumentOutOfRangeException>(() => client.SendStyleImage("ink", bytes, 1, 4, 2, 12, PixelFormat.RGB8));
                Assert.Throws<ArgumentException>(() => client.SendStyleImage("ink", bytes, 0, 4, 2, 8, PixelFormat.RGB8));
                Assert.AreEqual(0, client.Counters.ControlMessagesDropped);
                client.SetParams(AllNew());  // in range: accepted (queued)
            }
        }

        [Test, Timeout(60000)]
        public void NewParamsStyleImageSceneCutCapacityAndWantedPlanesReachTheWire()
        {
            TestEnvironment.NeedPythonTools();
            using (var server = ChildProcess.StartTool("busy_replica.py", "--refuse 0"))
            using (var client = new BridgeClient(Options(server.Port)))
            {
                Assert.AreEqual(0, client.WantedPlanes.Length);
                WelcomeMessage welcome = client.Connect(20000);
                Assert.AreEqual(1u, welcome.SessionsOpen);
                Assert.AreEqual(4u, welcome.SessionsMax);
                CollectionAssert.AreEqual(new[] { PlaneKind.Depth, PlaneKind.Motion }, client.WantedPlanes);

                var pixels = new byte[2 + 24];
                client.SendStyleImage("watercolor", pixels, 2, 4, 2, 12, PixelFormat.RGB8);
                client.SetParams(AllNew());
                var frame = new byte[4 * 2 * 4];
                FrameDescription d = FrameDescription.Rgba8(4, 2, RowOrder.TopDown);
                d.SceneCut = true;
                client.SubmitFrame(frame, 0, frame.Length, d);
                client.SendGameEvent("wanted");
                Assert.IsTrue(Wait.Until(() => client.WantedPlanes.Length == 1, 10000), server.Log);
                Assert.AreEqual(PlaneKind.Normals, client.WantedPlanes[0]);
                // the tool's lines reach server.Log through a reader thread: wait for the last ones
                Assert.IsTrue(Wait.Until(() => server.Log.Contains("GOT 1 FrameHeader") &&
                                               server.Log.Contains("GOT 1 GameEvent wanted"), 10000), server.Log);
                string log = server.Log;
                StringAssert.Contains("GOT 1 StyleImage watercolor 4x2 RGB8 24 bytes", log);
                StringAssert.Contains("GOT 1 Params None " + AllNewFields, log);
                StringAssert.Contains("GOT 1 FrameHeader scene_cut=True", log);
            }
        }

        [Test, Timeout(60000)]
        public void ReconnectReplaysTheStyleImageBeforeTheParamsThatNameIt()
        {
            TestEnvironment.NeedPythonTools();
            using (var server = ChildProcess.StartTool("busy_replica.py", "--refuse 0"))
            using (var client = new BridgeClient(Options(server.Port)))
            {
                client.Connect(20000);
                client.SendStyleImage("watercolor", new byte[24], 0, 4, 2, 12, PixelFormat.RGB8);
                client.SetParams(AllNew());
                client.SendGameEvent("lose");  // the server forgets the session: a new one must get the style first
                Assert.IsTrue(Wait.Until(() => server.Log.Contains("GOT 2 Params"), 20000), server.Log);
                string log = server.Log;
                int style = log.IndexOf("GOT 2 StyleImage watercolor", StringComparison.Ordinal);
                int parameters = log.IndexOf("GOT 2 Params", StringComparison.Ordinal);
                Assert.GreaterOrEqual(style, 0, log);
                Assert.Less(style, parameters, "the style image goes before the params whose style_blend names it");
                StringAssert.Contains("GOT 2 Params None " + AllNewFields, log);
                // UnknownSession (set_unknown_connection) is the session's move, not a server error: one
                // Disconnected event naming the code, and no ServerError event (the Error is counted, as in Python
                // and C++).
                var kinds = new List<string>();
                ClientEvent e;
                ClientEvent lost = null;
                while (client.TryDequeueEvent(out e))
                {
                    kinds.Add(e.Kind.ToString());
                    if (e.Kind == ClientEventKind.Disconnected) lost = e;
                }
                CollectionAssert.DoesNotContain(kinds, "ServerError", string.Join(", ", kinds));
                Assert.IsNotNull(lost, string.Join(", ", kinds));
                StringAssert.Contains("no session for this connection", lost.Message);
                StringAssert.Contains("UnknownSession", lost.Message);
                Assert.AreEqual(1L, client.Counters.ServerErrors);
                Assert.AreEqual(1L, client.Counters.Reconnects);
            }
        }

        [Test, Timeout(240000)]
        public void RealServerTakesStyleImageNewParamsAndSceneCut()
        {
            TestEnvironment.NeedPythonTools();
            using (var server = new ChildProcess(TestEnvironment.Python,
                       "-m sdbridge.cli serve --model tiny --ip-adapter tiny --bind tcp://127.0.0.1:0", 180000))
            using (var client = new BridgeClient(Options(server.Port)))
            {
                WelcomeMessage welcome = client.Connect(30000);
                Assert.AreNotEqual(0u, welcome.Capabilities & (uint)Capability.StyleImages, "granted with an IP-Adapter");
                Assert.AreEqual(1u, welcome.SessionsOpen);
                Assert.Greater(welcome.SessionsMax, 0u);
                var style = new byte[64 * 64 * 3];
                for (int i = 0; i < style.Length; i++) style[i] = (byte)(i * 13);
                client.SendStyleImage("watercolor", style, 0, 64, 64, 64 * 3, PixelFormat.RGB8);
                client.SetParams(new ParamsMessage
                {
                    StyleBlend = W("watercolor", 1f), IpAdapterScale = 0.5f, LatentFeedback = 0.1f, SceneCutThreshold = 0.25f,
                });
                var frame = new byte[64 * 64 * 4];
                FrameDescription d = FrameDescription.Rgba8(64, 64, RowOrder.TopDown);
                d.SceneCut = true;
                client.SubmitFrame(frame, 0, frame.Length, d);
                Assert.IsTrue(client.WaitForResult(120000), "no Result for the frame; server log:\n" + server.Log);
                ClientEvent e;
                while (client.TryDequeueEvent(out e))
                {
                    Assert.AreNotEqual(ClientEventKind.ServerError, e.Kind, e.Message);
                    if (e.Kind == ClientEventKind.Warning)  // the Welcome's own notes (e.g. resizing) are fine
                        StringAssert.DoesNotContain("not sent", e.Message);
                }
                Assert.AreEqual(0L, client.Counters.ServerErrors);
            }
        }
    }
}
