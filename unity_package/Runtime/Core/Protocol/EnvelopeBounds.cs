// The bounds checks BridgeCodec runs before it reads an Envelope: the FlatBuffers 2.0.8 C# runtime has no verifier,
// so the root table, its vtable and the body table must be proven to lie inside the message part, or the generated
// accessors would read stale bytes past it. Also the ProtocolException texts every decode path shares.
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using System.Collections.Generic;
#if SDBRIDGE_FLATBUFFERS_NUGET
using Google.FlatBuffers;
#else
using FlatBuffers;
#endif
using sdbridge.protocol;

namespace StreamDiffusion.Bridge.Core.Protocol
{
    /// <summary>Envelope bounds checks and the decode errors (Truncated, BadMessage, UnknownType).</summary>
    internal static class EnvelopeBounds
    {
        /// <summary>Throws Truncated when buffer cannot hold an Envelope at all (checked before it is wrapped).</summary>
        internal static void CheckSize(ArraySegment<byte> buffer)
        {
            if (buffer.Array == null || buffer.Count < 12)
            {
                throw new ProtocolException((int)ErrorCode.Truncated,
                    "message part 1 has " + buffer.Count + " bytes; an Envelope needs at least 12 (root offset, " +
                    "file identifier, table)");
            }
        }

        /// <summary>Checks the file identifier, root, vtable and body offsets of the Envelope in buffer (which bb
        /// wraps) and returns it; bodyPos is the body table's absolute position in bb.</summary>
        internal static Envelope Check(ByteBuffer bb, ArraySegment<byte> buffer, out int bodyPos)
        {
            byte[] array = buffer.Array;
            if (array[buffer.Offset + 4] != 'S' || array[buffer.Offset + 5] != 'D' || array[buffer.Offset + 6] != 'B' ||
                array[buffer.Offset + 7] != '1')
            {
                throw new ProtocolException((int)ErrorCode.WrongIdentifier,
                    "file identifier is not \"" + ProtocolVersion.FileIdentifier + "\": the peer is not an sdbridge " +
                    "server or speaks another protocol major");
            }
            // Bounds: root table, its vtable and the body offset must lie inside the part (the C# runtime has no
            // verifier and would otherwise read stale bytes past the message).
            int end = buffer.Offset + buffer.Count;
            long root = buffer.Offset + (long)(uint)bb.GetInt(buffer.Offset);
            if (root + 4 > end) throw Truncated("Envelope root offset");
            long vtable = root - bb.GetInt((int)root);
            if (vtable < buffer.Offset || vtable + 4 > end) throw Truncated("Envelope vtable");
            int vtSize = bb.GetShort((int)vtable);
            if (vtSize < 4 || vtable + vtSize > end) throw Truncated("Envelope vtable size");
            Envelope env = Envelope.GetRootAsEnvelope(bb);
            Message type = env.BodyType;
            if (type == Message.NONE || (byte)type > (byte)Message.StyleImage)
            {
                throw new ProtocolException((int)ErrorCode.UnknownType,
                    "Envelope.body_type is " + (int)type + "; this client knows 1..17 (Hello..StyleImage): update the " +
                    "package or the server so both speak the same protocol");
            }
            int bodyField = vtSize >= 8 ? bb.GetShort((int)vtable + 6) : 0;
            if (bodyField == 0) throw new ProtocolException((int)ErrorCode.BadMessage, "Envelope has a type but no body");
            long bodyRef = root + bodyField;
            if (bodyRef + 4 > end) throw Truncated("Envelope.body");
            long body = bodyRef + (uint)bb.GetInt((int)bodyRef);
            if (body + 4 > end) throw Truncated("Envelope.body table");
            long bodyVtable = body - bb.GetInt((int)body);
            if (bodyVtable < buffer.Offset || bodyVtable + 4 > end) throw Truncated("body vtable");
            int bodyVtSize = bb.GetShort((int)bodyVtable);
            int bodyTableSize = bb.GetShort((int)bodyVtable + 2);
            if (bodyVtSize < 4 || bodyVtable + bodyVtSize > end || body + bodyTableSize > end)
                throw Truncated("body table");
            bodyPos = (int)body;
            return env;
        }

        internal static ProtocolException Truncated(string what)
        {
            return new ProtocolException((int)ErrorCode.Truncated,
                what + " points past the end of the message: the buffer is truncated or corrupt");
        }

        internal static bool IsDecodeFailure(Exception e)
        {
            return e is IndexOutOfRangeException || e is ArgumentException || e is OverflowException ||
                   e is InvalidOperationException || e is NullReferenceException;
        }

        internal static ProtocolException Garbage(string what, Exception e)
        {
            return new ProtocolException((int)ErrorCode.BadMessage,
                what + " message is malformed (" + e.GetType().Name + ": " + e.Message + ")");
        }
    }
}
