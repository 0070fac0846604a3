// NUnit tests of CaptureGate: no capture unless Connected, and the frame-rate limit.
using System;
using NUnit.Framework;
using StreamDiffusion.Bridge.Core.Capture;
using StreamDiffusion.Bridge.Core.Client;

namespace StreamDiffusion.Bridge.Core.Tests
{
    [TestFixture]
    public sealed class CaptureGateTests
    {
        [TestCase(ClientState.Idle)]
        [TestCase(ClientState.Connecting)]
        [TestCase(ClientState.Reconnecting)]
        [TestCase(ClientState.Failed)]
        public void NoCaptureUnlessConnected(ClientState state)
        {
            var gate = new CaptureGate(0);
            Assert.IsFalse(gate.ShouldCapture(state, 10.0));
            Assert.IsTrue(gate.ShouldCapture(ClientState.Connected, 10.0));
        }

        [Test]
        public void LimitsTheCaptureRate()
        {
            var gate = new CaptureGate(10);
            Assert.IsTrue(gate.ShouldCapture(ClientState.Connected, 5.0), "the first frame goes at once");
            gate.Captured(5.0);
            Assert.IsFalse(gate.ShouldCapture(ClientState.Connected, 5.05), "50 ms after a capture at 10 frames/s");
            Assert.IsTrue(gate.ShouldCapture(ClientState.Connected, 5.1));
            gate.Reset();
            Assert.IsTrue(gate.ShouldCapture(ClientState.Connected, 5.01), "after a reset the next frame goes at once");
        }

        [Test]
        public void ZeroMeansEveryFrameAndNegativeIsRefused()
        {
            var gate = new CaptureGate(0);
            gate.Captured(1.0);
            Assert.IsTrue(gate.ShouldCapture(ClientState.Connected, 1.0));
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => gate.MaxFramesPerSecond = -1);
            StringAssert.Contains("-1", e.Message);
        }
    }
}
