// Per sent frame id, the camera that rendered it: when a result arrives, the client looks up the
// view-projection matrix of the frame the result depicts (ResultHeader.SourceFrameId) and reprojects from it to the
// current camera. Bounded: the oldest record is dropped when it is full. Main thread only (not thread-safe).
using System;

namespace StreamDiffusion.Bridge.Core.Reprojection
{
    /// <summary>What was kept about one sent frame.</summary>
    public struct CameraRecord
    {
        /// <summary>The frame id the client assigned (BridgeClient.SubmitFrame's return value).</summary>
        public ulong FrameId;

        /// <summary>The GPU view-projection matrix the frame was rendered with.</summary>
        public Matrix4 ViewProjection;

        /// <summary>Free for the engine layer, e.g. the depth ring slot that holds this frame's depth, and the
        /// capture sequence number that lets it tell whether the slot was reused since.</summary>
        public int DepthSlot;
        public long CaptureSequence;
    }

    /// <summary>Bounded map frame id -> camera record; the oldest entry goes first when full.</summary>
    public sealed class CameraHistory
    {
        private readonly CameraRecord[] _records;
        private readonly bool[] _used;
        private int _next;

        /// <param name="capacity">How many frames to remember: at least the frames in flight (credits) plus the
        /// pipeline's latency_frames, plus a few.</param>
        public CameraHistory(int capacity)
        {
            if (capacity < 1 || capacity > 4096)
            {
                throw new ArgumentOutOfRangeException(nameof(capacity), "CameraHistory capacity is " + capacity +
                                                      "; use 1..4096 (credits + latency_frames + a few is enough).");
            }
            _records = new CameraRecord[capacity];
            _used = new bool[capacity];
        }

        public int Capacity { get { return _records.Length; } }

        /// <summary>Number of records held.</summary>
        public int Count
        {
            get
            {
                int n = 0;
                for (int i = 0; i < _used.Length; i++) if (_used[i]) n++;
                return n;
            }
        }

        /// <summary>Remembers <paramref name="record"/>, replacing an older record of the same frame id, or the
        /// oldest record when full.</summary>
        public void Record(CameraRecord record)
        {
            if (record.ViewProjection == null)
            {
                throw new ArgumentNullException(nameof(record), "CameraHistory.Record: frame " + record.FrameId +
                                                " has no ViewProjection matrix.");
            }
            int slot = Find(record.FrameId);
            if (slot < 0)
            {
                slot = _next;
                _next = (_next + 1) % _records.Length;
            }
            _records[slot] = record;
            _used[slot] = true;
        }

        /// <summary>The record of <paramref name="frameId"/>, if it is still held.</summary>
        public bool TryGet(ulong frameId, out CameraRecord record)
        {
            int slot = Find(frameId);
            record = slot >= 0 ? _records[slot] : default(CameraRecord);
            return slot >= 0;
        }

        /// <summary>Forgets everything (e.g. after a reconnect: frame ids start again).</summary>
        public void Clear()
        {
            for (int i = 0; i < _used.Length; i++)
            {
                _used[i] = false;
                _records[i] = default(CameraRecord);
            }
            _next = 0;
        }

        private int Find(ulong frameId)
        {
            for (int i = 0; i < _records.Length; i++)
            {
                if (_used[i] && _records[i].FrameId == frameId) return i;
            }
            return -1;
        }
    }
}
