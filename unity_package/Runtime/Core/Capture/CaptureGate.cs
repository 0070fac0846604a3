// When an engine layer may capture a frame: only while the client is Connected (never while it
// connects, reconnects, is refused or stopped, so a game without a server pays no capture or readback), and at
// most MaxFramesPerSecond times a second (0 = every rendered frame; the server's credits still limit what is sent).
// Main thread only.
using System;
using StreamDiffusion.Bridge.Core.Client;

namespace StreamDiffusion.Bridge.Core.Capture
{
    /// <summary>Decides, frame by frame, whether the engine layer captures.</summary>
    public sealed class CaptureGate
    {
        private int _maxFramesPerSecond;
        private double _lastCapture = double.NegativeInfinity;

        /// <param name="maxFramesPerSecond">Most captures per second; 0 for no limit.</param>
        public CaptureGate(int maxFramesPerSecond)
        {
            MaxFramesPerSecond = maxFramesPerSecond;
        }

        /// <summary>Most captures per second; 0 for no limit.</summary>
        public int MaxFramesPerSecond
        {
            get { return _maxFramesPerSecond; }
            set
            {
                if (value < 0)
                {
                    throw new ArgumentOutOfRangeException(nameof(value), "CaptureGate.MaxFramesPerSecond is " + value +
                                                          "; use 0 (no limit) or a positive number of frames per second.");
                }
                _maxFramesPerSecond = value;
            }
        }

        /// <summary>True when a frame should be captured at <paramref name="nowSeconds"/> (any monotonic clock).</summary>
        public bool ShouldCapture(ClientState state, double nowSeconds)
        {
            if (state != ClientState.Connected) return false;
            if (_maxFramesPerSecond <= 0) return true;
            return nowSeconds - _lastCapture >= 1.0 / _maxFramesPerSecond - 1e-6; // 1 us slack for clock rounding
        }

        /// <summary>Records that a frame was captured at <paramref name="nowSeconds"/>.</summary>
        public void Captured(double nowSeconds)
        {
            _lastCapture = nowSeconds;
        }

        /// <summary>Forgets the last capture time (e.g. after a reconnect: capture at once).</summary>
        public void Reset()
        {
            _lastCapture = double.NegativeInfinity;
        }
    }
}
