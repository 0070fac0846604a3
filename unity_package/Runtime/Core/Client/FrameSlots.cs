// The frame and result buffers BridgeClient hands between the caller and its I/O thread without copying or
// allocating per frame:
//   - frames (triple buffer): the caller fills a private slot, swaps it into "pending" (replacing an unsent
//     frame: latest wins); the I/O thread swaps "pending" into its "sending" slot;
//   - results (triple buffer): the I/O thread writes "back", publishes it as "ready"; the caller swaps it out.
// Swaps happen under SessionState.Lock; pixel copies happen outside it.
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using System.Diagnostics;
using System.Threading;
using StreamDiffusion.Bridge.Core.Protocol;

namespace StreamDiffusion.Bridge.Core.Client
{
    /// <summary>A frame waiting for credit: pooled pixels plus its header.</summary>
    internal sealed class PendingFrame
    {
        public byte[] Pixels = new byte[0];
        public int Length;
        public FrameHeader Header;
        /// <summary>Protocol 1.3: one pooled buffer per Header.Planes entry (its first ByteCount bytes).</summary>
        public byte[][] PlaneBytes = new byte[0][];

        public void Ensure(int length)
        {
            if (Pixels.Length < length) Pixels = new byte[length];
        }

        /// <summary>Copies the planes' bytes into pooled buffers and describes them in Header.Planes.</summary>
        public void CopyPlanes(PlaneData[] planes)
        {
            int n = planes == null ? 0 : planes.Length;
            if (PlaneBytes.Length < n) Array.Resize(ref PlaneBytes, n);
            var descriptions = n == 0 ? null : new PlaneDescription[n];
            for (int i = 0; i < n; i++)
            {
                int size = (int)planes[i].Description.ByteCount;
                if (PlaneBytes[i] == null || PlaneBytes[i].Length < size) PlaneBytes[i] = new byte[size];
                Buffer.BlockCopy(planes[i].Bytes, planes[i].Offset, PlaneBytes[i], 0, size);
                descriptions[i] = planes[i].Description;
            }
            Header.Planes = descriptions;
        }
    }

    /// <summary>Frame and result slots shared by the caller and the I/O thread.</summary>
    internal sealed class FrameSlots
    {
        private readonly SessionState _s;
        private readonly object _fillLock = new object();

        private PendingFrame _fill = new PendingFrame();
        private PendingFrame _pending = new PendingFrame();
        private PendingFrame _sending = new PendingFrame();
        private bool _hasPending;
        private ulong _nextFrameId = 1;
        private ulong _lastSubmittedFrameId;

        private ResultFrame _back = new ResultFrame();
        private ResultFrame _ready = new ResultFrame();
        private bool _hasReady;

        internal FrameSlots(SessionState session)
        {
            _s = session;
        }

        /// <summary>Frame id of the last submitted frame (0 before the first).</summary>
        internal ulong LastSubmittedFrameId
        {
            get
            {
                lock (_s.Lock) return _lastSubmittedFrameId;
            }
        }

        internal bool HasPending
        {
            get
            {
                lock (_s.Lock) return _hasPending;
            }
        }

        /// <summary>Called under SessionState.Lock.</summary>
        internal bool HasPendingLocked
        {
            get { return _hasPending; }
        }

        // ------------------------------------------------------------------ caller side

        /// <summary>Reserves the fill slot for the calling thread (one filler at a time) with room for
        /// <paramref name="length"/> bytes. Follow with Publish, or AbandonFill if the copy failed.</summary>
        internal PendingFrame BeginFill(int length)
        {
            Monitor.Enter(_fillLock);
            try
            {
                _fill.Ensure(length);
                return _fill;
            }
            catch
            {
                Monitor.Exit(_fillLock);
                throw;
            }
        }

        /// <summary>Releases the fill slot without publishing it.</summary>
        internal void AbandonFill()
        {
            Monitor.Exit(_fillLock);
        }

        /// <summary>Publishes the filled slot as the pending frame (replacing an unsent one) and returns the
        /// frame id it was given.</summary>
        internal ulong Publish(PendingFrame slot, ref FrameHeader header, int length)
        {
            try
            {
                lock (_s.Lock)
                {
                    header.FrameId = _nextFrameId++;
                    header.Planes = slot.Header.Planes;  // set by CopyPlanes (null: none)
                    slot.Header = header;
                    slot.Length = length;
                    _fill = _pending;
                    _pending = slot;
                    if (_hasPending) _s.Counters.FramesReplaced++;
                    _hasPending = true;
                    _s.Counters.FramesSubmitted++;
                    _lastSubmittedFrameId = header.FrameId;
                    return header.FrameId;
                }
            }
            finally
            {
                Monitor.Exit(_fillLock);
                _s.Wake.Set();
            }
        }

        /// <summary>If a newer result arrived, swaps it into <paramref name="frame"/> (no copy).</summary>
        internal bool TryGetResult(ref ResultFrame frame)
        {
            lock (_s.Lock)
            {
                if (!_hasReady) return false;
                ResultFrame taken = _ready;
                _ready = frame ?? new ResultFrame();
                frame = taken;
                _hasReady = false;
                return true;
            }
        }

        /// <summary>Blocks until a result is ready or <paramref name="timeoutMs"/> passes.</summary>
        internal bool WaitForResult(int timeoutMs)
        {
            long deadline = Stopwatch.GetTimestamp() + timeoutMs * Stopwatch.Frequency / 1000;
            lock (_s.Lock)
            {
                while (!_hasReady)
                {
                    long left = (deadline - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency;
                    if (left <= 0) return false;
                    Monitor.Wait(_s.Lock, (int)left);
                }
                return true;
            }
        }

        // ------------------------------------------------------------------ I/O side

        /// <summary>Moves the pending frame into the sending slot and returns it; null when none waits. The
        /// returned frame belongs to the I/O thread until the next call.</summary>
        internal PendingFrame TakePending()
        {
            lock (_s.Lock)
            {
                if (!_hasPending) return null;
                PendingFrame t = _sending;
                _sending = _pending;
                _pending = t;
                _hasPending = false;
                return _sending;
            }
        }

        /// <summary>The result buffer the I/O thread writes next (I/O thread only).</summary>
        internal ResultFrame Back
        {
            get { return _back; }
        }

        /// <summary>Publishes the written back buffer as the ready result and wakes WaitForResult.</summary>
        internal void PublishResult()
        {
            lock (_s.Lock)
            {
                ResultFrame back = _back;
                _back = _ready;
                _ready = back;
                if (_hasReady) _s.Counters.ResultsOverwritten++;
                _hasReady = true;
                _s.Counters.ResultsReceived++;
                Monitor.PulseAll(_s.Lock);
            }
        }
    }
}
