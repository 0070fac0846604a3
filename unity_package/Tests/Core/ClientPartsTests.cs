// The parts BridgeClient is built from, tested on their own without a server: message building and checks
// (ControlMessages), the credit window, and the replay of the remembered prompt / params / state at the front of
// the control queue after a reconnect (SessionState).
// Compiled and run here with mono + NUnit 2.6; uses only NUnit API that Unity's NUnit 3.5 also has.
using System.Diagnostics;
using NUnit.Framework;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Protocol;

namespace StreamDiffusion.Bridge.Core.Tests
{
    [TestFixture]
    public class ClientPartsTests
    {
        [Test]
        public void MergeKeepsEarlierFieldsAndTakesTheNewerOnes()
        {
            var first = new ParamsMessage { GuidanceScale = 1.5f, Seed = 7 };
            var second = new ParamsMessage { Seed = 9, Delta = 0.5f, StreamId = 2 };
            ParamsMessage m = ControlMessages.Merge(ControlMessages.Merge(null, first), second);
            Assert.AreEqual(1.5f, m.GuidanceScale);
            Assert.AreEqual(9UL, m.Seed);
            Assert.AreEqual(0.5f, m.Delta);
            Assert.AreEqual(2u, m.StreamId);
            Assert.IsNull(m.TIndexList);
            Assert.AreEqual((uint)(ParamsField.GuidanceScale | ParamsField.Seed | ParamsField.Delta), m.SetMask);
        }

        [Test]
        public void WelcomeLimitsRefuseAFrameAndNameTheLimitAndTheFix()
        {
            var w = new WelcomeMessage { MaxWidth = 64, MaxHeight = 64, MaxMessageBytes = 20000,
                                         PixelFormats = new[] { PixelFormat.RGBA8 } };
            var ok = new FrameHeader { Width = 64, Height = 64, PixelFormat = PixelFormat.RGBA8 };
            Assert.IsNull(ControlMessages.CheckAgainstWelcome(w, ref ok, 16384));

            var wide = new FrameHeader { Width = 65, Height = 64, PixelFormat = PixelFormat.RGBA8 };
            string why = ControlMessages.CheckAgainstWelcome(w, ref wide, 16640);
            StringAssert.Contains("65x64", why);
            StringAssert.Contains("64x64", why);
            StringAssert.Contains("limits.max_width", why);

            string bytes = ControlMessages.CheckAgainstWelcome(w, ref ok, 20001);
            StringAssert.Contains("20001", bytes);
            StringAssert.Contains("max_message_bytes", bytes);

            var bgra = new FrameHeader { Width = 8, Height = 8, PixelFormat = PixelFormat.BGRA8 };
            string format = ControlMessages.CheckAgainstWelcome(w, ref bgra, 256);
            StringAssert.Contains("BGRA8", format);
            StringAssert.Contains("RGBA8", format);
        }

        [Test]
        public void CreditWindowCountsCreditsAndSilenceOnlyWhileFramesAreInFlight()
        {
            var c = new CreditWindow();
            long start = Stopwatch.GetTimestamp();
            c.Open(2, start);
            Assert.AreEqual(0, c.SilentMs(start + Stopwatch.Frequency), "nothing in flight: no silence");
            c.Spend(start);
            c.Spend(start);
            Assert.AreEqual(0, c.Credits);
            Assert.AreEqual(2, c.InFlight);
            Assert.GreaterOrEqual(c.SilentMs(Stopwatch.GetTimestamp() + Stopwatch.Frequency), 1000);
            c.Return(1, 1);
            Assert.AreEqual(1, c.Credits);
            Assert.AreEqual(1, c.InFlight);
            c.Return(3, 5);  // more answers than frames in flight never goes negative
            Assert.AreEqual(0, c.InFlight);
            c.Clear();
            Assert.AreEqual(0, c.Credits);
        }

        [Test]
        public void ReconnectPutsTheRememberedSettingsFirstAndDropsTheirQueuedCopies()
        {
            var s = new SessionState(new BridgeClientOptions());
            s.QueuePrompt(new PromptMessage { Text = "old" });
            s.QueueParams(new ParamsMessage { GuidanceScale = 1.2f });
            s.QueueGameEvent(new GameEventMessage { Name = "hit" }, 5);
            s.QueuePrompt(new PromptMessage { Text = "new" });
            s.QueueState(new StateMessage { Entries = { KeyValueData.Of("k", 1L) } });
            s.QueueParams(new ParamsMessage { Seed = 3 });
            lock (s.Lock) s.OnSessionOpenedLocked(true);

            object m;
            Assert.IsTrue(s.TryPeekControl(out m));
            Assert.AreEqual("new", ((PromptMessage)m).Text);
            s.DropControl();
            Assert.IsTrue(s.TryPeekControl(out m));
            var merged = (ParamsMessage)m;
            Assert.AreEqual(1.2f, merged.GuidanceScale);
            Assert.AreEqual(3UL, merged.Seed);
            s.DropControl();
            Assert.IsTrue(s.TryPeekControl(out m));
            var state = (StateMessage)m;
            Assert.IsTrue(state.ReplaceAll);
            Assert.AreEqual("k", state.Entries[0].Key);
            s.DropControl();
            Assert.IsTrue(s.TryPeekControl(out m));
            var ev = (GameEventMessage)m;
            Assert.AreEqual("hit", ev.Name);
            Assert.AreEqual(5UL, ev.FrameId, "a game event without a frame id is tied to the last submitted frame");
            s.DropControl();
            Assert.IsFalse(s.TryPeekControl(out m), "the queued prompt, params and state copies are gone");
        }

        [Test]
        public void TheFirstSessionDoesNotReplayAnything()
        {
            var s = new SessionState(new BridgeClientOptions());
            s.QueuePrompt(new PromptMessage { Text = "a" });
            lock (s.Lock) s.OnSessionOpenedLocked(false);
            object m;
            Assert.IsTrue(s.TryPeekControl(out m));
            s.DropControl();
            Assert.IsFalse(s.TryPeekControl(out m), "one prompt queued, one prompt to send");
        }
    }
}
