// A received multipart message whose part buffers are pooled: buffers grow to the largest size seen and are
// then reused, so receiving frames of a steady size allocates nothing.
// Compiled and tested here with mono's mcs (C# 7.2).
using System;

namespace StreamDiffusion.Bridge.Core.Transport
{
    /// <summary>Reusable storage for one received multipart message.</summary>
    public sealed class MultipartMessage
    {
        /// <summary>Most parts a bridge message has (header + pixels) plus slack; more is a protocol error.</summary>
        public const int MaxParts = 4;

        private readonly byte[][] _buffers = new byte[MaxParts][];
        private readonly int[] _lengths = new int[MaxParts];

        /// <summary>Number of parts of the message currently held.</summary>
        public int Count { get; private set; }

        /// <summary>The pooled buffer of part <paramref name="index"/>; only the first Length(index) bytes
        /// are valid.</summary>
        public byte[] Buffer(int index)
        {
            CheckIndex(index);
            return _buffers[index];
        }

        /// <summary>Valid byte count of part <paramref name="index"/>.</summary>
        public int Length(int index)
        {
            CheckIndex(index);
            return _lengths[index];
        }

        /// <summary>Part <paramref name="index"/> as a segment over the pooled buffer (no copy).</summary>
        public ArraySegment<byte> Segment(int index)
        {
            CheckIndex(index);
            return new ArraySegment<byte>(_buffers[index], 0, _lengths[index]);
        }

        /// <summary>Forgets the parts (keeps the buffers).</summary>
        public void Clear()
        {
            Count = 0;
        }

        /// <summary>Appends a part of <paramref name="size"/> bytes and returns the buffer to fill. Used by
        /// transports.</summary>
        public byte[] AddPart(int size)
        {
            if (Count >= MaxParts)
            {
                throw new TransportException(
                    "received a message with more than " + MaxParts + " parts; bridge messages have 1 or 2 parts");
            }
            if (size < 0) throw new ArgumentOutOfRangeException(nameof(size), size, "part size must be >= 0");
            byte[] buf = _buffers[Count];
            if (buf == null || buf.Length < size)
            {
                // Grow to the next power of two so slowly changing sizes do not reallocate every message.
                int capacity = 64;
                while (capacity < size && capacity < (1 << 30)) capacity <<= 1;
                if (capacity < size) capacity = size;
                buf = new byte[capacity];
                _buffers[Count] = buf;
            }
            _lengths[Count] = size;
            Count++;
            return buf;
        }

        /// <summary>Takes part <paramref name="index"/>'s buffer out of the message and puts
        /// <paramref name="replacement"/> in its place (zero-copy hand-over; the message grows the replacement
        /// later only if a larger part arrives). Returns the taken buffer.</summary>
        public byte[] SwapBuffer(int index, byte[] replacement)
        {
            CheckIndex(index);
            if (replacement == null) throw new ArgumentNullException(nameof(replacement));
            byte[] taken = _buffers[index];
            _buffers[index] = replacement;
            return taken;
        }

        /// <summary>Copies the parts into a new message-independent array (allocates; for tests/tools).</summary>
        public byte[] ToArray(int index)
        {
            CheckIndex(index);
            var copy = new byte[_lengths[index]];
            System.Buffer.BlockCopy(_buffers[index], 0, copy, 0, copy.Length);
            return copy;
        }

        private void CheckIndex(int index)
        {
            if (index < 0 || index >= Count)
            {
                throw new ArgumentOutOfRangeException(nameof(index), index,
                    "part index must be in [0, " + Count + ") for this message");
            }
        }
    }
}
