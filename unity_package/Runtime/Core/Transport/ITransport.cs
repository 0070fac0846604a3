// The transport seam of the C# core: one DEALER connection to the server's ROUTER, used by exactly one
// thread (BridgeClient's I/O thread). Two implementations: ManagedZmqTransport (pure C#, ZMTP 3.1, runs
// under IL2CPP, no native library) and NativeZmqTransport (P/Invoke to libzmq; needed for CurveZMQ).
// Compiled and tested here with mono's mcs (C# 7.2).
using System;

namespace StreamDiffusion.Bridge.Core.Transport
{
    /// <summary>A message-oriented DEALER connection. Not thread-safe: one thread calls every member.</summary>
    public interface ITransport : IDisposable
    {
        /// <summary>Connects to <paramref name="endpoint"/> ("tcp://host:port") and completes the transport
        /// handshake. Throws <see cref="StreamDiffusion.Bridge.Core.TransportException"/> on failure.</summary>
        void Connect(string endpoint);

        /// <summary>True between a successful <see cref="Connect"/> and the first transport error or Dispose.</summary>
        bool IsConnected { get; }

        /// <summary>Sends a one-part message. The bytes are copied or written out before this returns.</summary>
        void Send(ArraySegment<byte> part1);

        /// <summary>Sends a two-part message (header + pixels). The bytes are copied or written out before
        /// this returns, so the caller may reuse both buffers at once.</summary>
        void Send(ArraySegment<byte> part1, ArraySegment<byte> part2);

        /// <summary>Sends a message of <paramref name="count"/> parts (a Frame with planes, protocol 1.3: header,
        /// pixels, one part per plane). The bytes are written out before this returns.</summary>
        void Send(ArraySegment<byte>[] parts, int count);

        /// <summary>Waits up to <paramref name="timeoutMs"/> for one whole multipart message and stores it in
        /// <paramref name="message"/> (whose pooled buffers are reused). Returns false on timeout. Also services
        /// heartbeats. Throws <see cref="StreamDiffusion.Bridge.Core.TransportException"/> when the connection
        /// is lost.</summary>
        bool TryReceive(MultipartMessage message, int timeoutMs);
    }

    /// <summary>Settings shared by both transports. Plain values, no engine types.</summary>
    public sealed class TransportOptions
    {
        /// <summary>Time allowed for TCP connect + ZMTP greeting/READY.</summary>
        public int ConnectTimeoutMs = 3000;

        /// <summary>Time allowed to write one message before the connection is declared dead.</summary>
        public int SendTimeoutMs = 3000;

        /// <summary>ZMTP 3.1 PING interval (0 disables heartbeats).</summary>
        public int HeartbeatIntervalMs = 1000;

        /// <summary>No traffic at all from the peer for this long means the connection is dead.</summary>
        public int HeartbeatTimeoutMs = 5000;

        /// <summary>Largest frame accepted from the peer; larger frames are refused before allocation.</summary>
        public long MaxFrameBytes = 64L * 1024 * 1024;

        /// <summary>Optional ZMTP Identity sent in READY (empty = let the ROUTER assign one, as libzmq does).
        /// A fixed identity must be unique per live connection, or the ROUTER refuses the second one.</summary>
        public byte[] Identity = new byte[0];

        /// <summary>CurveZMQ keys (Z85, 40 chars) for the native transport; null = NULL mechanism.
        /// The managed transport only speaks NULL and refuses options that set these.</summary>
        public string CurveServerKey;
        public string CurvePublicKey;
        public string CurveSecretKey;
    }

    /// <summary>Which transport implementation a BridgeClient creates.</summary>
    public enum TransportKind
    {
        /// <summary>Pure C# ZMTP 3.1 (NULL mechanism). Works everywhere, including IL2CPP builds.</summary>
        Managed = 0,
        /// <summary>libzmq through P/Invoke (needs the native library next to the player; supports Curve).</summary>
        Native = 1,
    }

    /// <summary>Creates transports by kind.</summary>
    public static class TransportFactory
    {
        public static ITransport Create(TransportKind kind, TransportOptions options)
        {
            switch (kind)
            {
                case TransportKind.Managed:
                    return new ManagedZmqTransport(options);
                case TransportKind.Native:
                    return new NativeZmqTransport(options);
                default:
                    throw new ArgumentOutOfRangeException(nameof(kind), kind,
                        "TransportKind must be Managed or Native.");
            }
        }
    }
}
