// ZMTP 3.1 wire pieces (rfc.zeromq.org/spec/37, which extends ZMTP 3.0, spec 23): the 64-byte greeting,
// frame headers (flags MORE=1, LONG=2, COMMAND=4; 1-byte size up to 255, else 8-byte big-endian size),
// and the commands the NULL mechanism and heartbeats use (READY, ERROR, PING, PONG).
// Pure byte functions, no sockets, so every rule is unit-tested.
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using System.Text;

namespace StreamDiffusion.Bridge.Core.Transport
{
    /// <summary>Byte-level ZMTP 3.1 helpers used by <see cref="ManagedZmqTransport"/>.</summary>
    public static class Zmtp
    {
        public const int GreetingSize = 64;
        public const byte FlagMore = 0x01;
        public const byte FlagLong = 0x02;
        public const byte FlagCommand = 0x04;
        public const int MaxShortSize = 255;
        /// <summary>Largest frame header: flags + 8-byte size.</summary>
        public const int MaxHeaderSize = 9;

        /// <summary>Writes our greeting: signature FF 00*8 7F, version 3.1, mechanism "NULL", as-server 0.</summary>
        public static void WriteGreeting(byte[] dst)
        {
            if (dst == null || dst.Length < GreetingSize)
                throw new ArgumentException("greeting buffer must hold " + GreetingSize + " bytes", nameof(dst));
            Array.Clear(dst, 0, GreetingSize);
            dst[0] = 0xFF;
            dst[9] = 0x7F;
            dst[10] = 3; // major
            dst[11] = 1; // minor
            dst[12] = (byte)'N';
            dst[13] = (byte)'U';
            dst[14] = (byte)'L';
            dst[15] = (byte)'L';
            dst[32] = 0; // as-server: we are the client
        }

        /// <summary>Checks a peer greeting and returns its minor version (3.0 peers get no heartbeats).</summary>
        public static int ParseGreeting(byte[] src)
        {
            if (src[0] != 0xFF || src[9] != 0x7F)
            {
                throw new TransportException(
                    "the peer did not send a ZMTP signature (first byte 0x" + src[0].ToString("X2") + ", tenth 0x" +
                    src[9].ToString("X2") + "; expected 0xFF and 0x7F): is the endpoint a ZeroMQ socket?");
            }
            int major = src[10];
            int minor = src[11];
            if (major < 3)
            {
                throw new TransportException(
                    "the peer speaks ZMTP " + major + "." + minor + "; this client needs ZMTP 3.0 or newer " +
                    "(libzmq 4.x): upgrade pyzmq/libzmq on the server");
            }
            int end = 12;
            while (end < 32 && src[end] != 0) end++;
            string mechanism = Encoding.ASCII.GetString(src, 12, end - 12);
            if (mechanism != "NULL")
            {
                throw new TransportException(
                    "the peer uses the ZMTP security mechanism '" + mechanism + "'; the managed transport speaks " +
                    "only NULL: use TransportKind.Native for CURVE, or turn security off on the server");
            }
            return major > 3 ? 1 : minor;
        }

        /// <summary>Writes a frame header for a body of <paramref name="size"/> bytes; returns its length.</summary>
        public static int WriteFrameHeader(byte[] dst, int offset, long size, bool more, bool command)
        {
            byte flags = 0;
            if (more) flags |= FlagMore;
            if (command) flags |= FlagCommand;
            if (size <= MaxShortSize)
            {
                dst[offset] = flags;
                dst[offset + 1] = (byte)size;
                return 2;
            }
            dst[offset] = (byte)(flags | FlagLong);
            WriteUInt64BigEndian(dst, offset + 1, (ulong)size);
            return 9;
        }

        /// <summary>Header length implied by a flags byte (2 for short frames, 9 for long ones).</summary>
        public static int HeaderLength(byte flags)
        {
            return (flags & FlagLong) != 0 ? 9 : 2;
        }

        /// <summary>Checks a flags byte: reserved bits 3..7 must be zero and commands cannot have MORE.</summary>
        public static void CheckFlags(byte flags)
        {
            if ((flags & 0xF8) != 0)
            {
                throw new TransportException(
                    "ZMTP frame flags 0x" + flags.ToString("X2") + " set reserved bits 3..7; the stream is corrupt");
            }
            if ((flags & FlagCommand) != 0 && (flags & FlagMore) != 0)
            {
                throw new TransportException("ZMTP command frame has the MORE flag set; the stream is corrupt");
            }
        }

        /// <summary>Writes a READY command body (without frame header) with Socket-Type and Identity
        /// properties. Returns the body length.</summary>
        public static int WriteReadyBody(byte[] dst, int offset, string socketType, byte[] identity)
        {
            int p = offset;
            p = WriteCommandName(dst, p, "READY");
            p = WriteProperty(dst, p, "Socket-Type", Encoding.ASCII.GetBytes(socketType));
            p = WriteProperty(dst, p, "Identity", identity ?? new byte[0]);
            return p - offset;
        }

        /// <summary>Size of a READY body for <see cref="WriteReadyBody"/>.</summary>
        public static int ReadyBodySize(string socketType, byte[] identity)
        {
            int idLen = identity == null ? 0 : identity.Length;
            return 1 + 5 + (1 + 11 + 4 + socketType.Length) + (1 + 8 + 4 + idLen);
        }

        /// <summary>Writes a PING body: "PING", TTL in tenths of a second (big-endian ushort), context.</summary>
        public static int WritePingBody(byte[] dst, int offset, int ttlDeciseconds, byte[] context, int contextLength)
        {
            if (contextLength > 16) throw new ArgumentOutOfRangeException(nameof(contextLength), "PING context is at most 16 bytes");
            int p = WriteCommandName(dst, offset, "PING");
            int ttl = Math.Max(0, Math.Min(ttlDeciseconds, 0xFFFF));
            dst[p++] = (byte)(ttl >> 8);
            dst[p++] = (byte)ttl;
            if (contextLength > 0) Buffer.BlockCopy(context, 0, dst, p, contextLength);
            return p + contextLength - offset;
        }

        /// <summary>Writes a PONG body echoing a PING's context.</summary>
        public static int WritePongBody(byte[] dst, int offset, byte[] context, int contextOffset, int contextLength)
        {
            int p = WriteCommandName(dst, offset, "PONG");
            if (contextLength > 0) Buffer.BlockCopy(context, contextOffset, dst, p, contextLength);
            return p + contextLength - offset;
        }

        /// <summary>Reads the command name of a command body ("READY", "PING", ...).</summary>
        public static string CommandName(byte[] body, int length)
        {
            if (length < 1 || body[0] + 1 > length)
                throw new TransportException("ZMTP command frame of " + length + " bytes is too short for its name");
            return Encoding.ASCII.GetString(body, 1, body[0]);
        }

        /// <summary>True when the command body's name equals <paramref name="name"/> (no allocation).</summary>
        public static bool IsCommand(byte[] body, int length, string name)
        {
            if (length < 1 + name.Length || body[0] != name.Length) return false;
            for (int i = 0; i < name.Length; i++)
            {
                if (body[1 + i] != (byte)name[i]) return false;
            }
            return true;
        }

        /// <summary>Finds a metadata property of a READY body; returns null when absent.</summary>
        public static byte[] FindProperty(byte[] body, int length, string name)
        {
            int p = 1 + body[0];
            while (p < length)
            {
                int nameLen = body[p];
                if (p + 1 + nameLen + 4 > length)
                    throw new TransportException("ZMTP READY metadata is truncated at byte " + p + " of " + length);
                string propName = Encoding.ASCII.GetString(body, p + 1, nameLen);
                p += 1 + nameLen;
                long valueLen = ((long)body[p] << 24) | ((long)body[p + 1] << 16) | ((long)body[p + 2] << 8) | body[p + 3];
                p += 4;
                if (p + valueLen > length)
                    throw new TransportException("ZMTP READY property '" + propName + "' value overruns the command");
                if (string.Equals(propName, name, StringComparison.OrdinalIgnoreCase))
                {
                    var value = new byte[valueLen];
                    Buffer.BlockCopy(body, p, value, 0, (int)valueLen);
                    return value;
                }
                p += (int)valueLen;
            }
            return null;
        }

        public static void WriteUInt64BigEndian(byte[] dst, int offset, ulong value)
        {
            for (int i = 7; i >= 0; i--)
            {
                dst[offset + i] = (byte)value;
                value >>= 8;
            }
        }

        public static ulong ReadUInt64BigEndian(byte[] src, int offset)
        {
            ulong v = 0;
            for (int i = 0; i < 8; i++) v = (v << 8) | src[offset + i];
            return v;
        }

        private static int WriteCommandName(byte[] dst, int p, string name)
        {
            dst[p++] = (byte)name.Length;
            for (int i = 0; i < name.Length; i++) dst[p++] = (byte)name[i];
            return p;
        }

        private static int WriteProperty(byte[] dst, int p, string name, byte[] value)
        {
            dst[p++] = (byte)name.Length;
            for (int i = 0; i < name.Length; i++) dst[p++] = (byte)name[i];
            int n = value.Length;
            dst[p++] = (byte)(n >> 24);
            dst[p++] = (byte)(n >> 16);
            dst[p++] = (byte)(n >> 8);
            dst[p++] = (byte)n;
            Buffer.BlockCopy(value, 0, dst, p, n);
            return p + n;
        }
    }
}
