// A ZeroMQ DEALER written in C# over System.Net.Sockets: ZMTP 3.1 with the NULL mechanism (greeting, READY
// with Socket-Type and Identity, multipart MORE flags, short and long frames, PING/PONG heartbeats). It needs
// no native library, so it runs in IL2CPP players on every platform. Talks to libzmq ROUTER sockets (the
// Python server uses pyzmq). One thread uses an instance; steady-state sends and receives allocate nothing.
// This class does the framing (messages, commands, heartbeats); the socket I/O is ZmtpSocket.cs and the greeting and
// READY exchange ZmtpHandshake.cs.
// Compiled and tested here with mono's mcs (C# 7.2) against pyzmq/libzmq 4.3.
using System;
using System.Diagnostics;
using System.Net.Sockets;

namespace StreamDiffusion.Bridge.Core.Transport
{
    /// <summary>Pure C# ZMTP 3.1 DEALER (NULL security). Not thread-safe: one thread uses it.</summary>
    public sealed class ManagedZmqTransport : ITransport
    {
        private const int ScratchSize = 64 * 1024;

        private readonly TransportOptions _options;
        private readonly byte[] _scratch = new byte[ScratchSize];  // outgoing headers, small bodies, commands
        private byte[] _commandBuf = new byte[512];                // incoming command bodies
        private readonly byte[] _pingContext = new byte[0];
        private ZmtpSocket _io;
        private string _endpoint = "";
        private int _peerMinor;
        private long _lastReceiveTicks;
        private long _lastPingTicks;
        private bool _connected;
        private bool _disposed;

        public ManagedZmqTransport(TransportOptions options)
        {
            if (options == null) throw new ArgumentNullException(nameof(options));
            if (options.CurveServerKey != null || options.CurvePublicKey != null || options.CurveSecretKey != null)
            {
                throw new ArgumentException(
                    "CurveZMQ keys are set but the managed transport speaks only the NULL mechanism; use " +
                    "TransportKind.Native for CurveZMQ", nameof(options));
            }
            if (options.Identity != null && options.Identity.Length > 255)
            {
                throw new ArgumentException(
                    "Identity is " + options.Identity.Length + " bytes; ZeroMQ allows at most 255", nameof(options));
            }
            _options = options;
        }

        /// <summary>ZMTP minor version the peer announced (1 = heartbeats supported).</summary>
        public int PeerMinorVersion { get { return _peerMinor; } }

        public bool IsConnected { get { return _connected && !_disposed && !_io.Failed; } }

        public void Connect(string endpoint)
        {
            if (_disposed) throw new ObjectDisposedException(nameof(ManagedZmqTransport));
            if (_io != null) throw new InvalidOperationException("Connect may be called once per transport");
            TcpEndpoint ep = TcpEndpoint.Parse(endpoint);
            _endpoint = endpoint;
            long deadline = NowTicks() + MsToTicks(_options.ConnectTimeoutMs);
            _io = ZmtpSocket.Open(ep, endpoint, _options);
            try
            {
                _peerMinor = ZmtpHandshake.Run(_io, _scratch, ref _commandBuf, _options, endpoint, deadline);
                _io.SetReceiveTimeout(_options.HeartbeatTimeoutMs);
                _lastReceiveTicks = NowTicks();
                _lastPingTicks = _lastReceiveTicks;
                _connected = true;
            }
            catch (SocketException e)
            {
                _io.Fail();
                throw new TransportException("ZMTP handshake with " + endpoint + " failed: " + e.Message, e);
            }
            catch (Exception)
            {
                _io.Fail();
                throw;
            }
        }

        public void Send(ArraySegment<byte> part1)
        {
            EnsureConnected();
            SendFrame(part1, false);
        }

        public void Send(ArraySegment<byte> part1, ArraySegment<byte> part2)
        {
            EnsureConnected();
            // Small header + the pixel frame's header go out in one write; the pixels follow straight from
            // the caller's buffer (no copy).
            if (part1.Count + 2 * Zmtp.MaxHeaderSize <= ScratchSize)
            {
                int p = Zmtp.WriteFrameHeader(_scratch, 0, part1.Count, true, false);
                Buffer.BlockCopy(part1.Array, part1.Offset, _scratch, p, part1.Count);
                p += part1.Count;
                p += Zmtp.WriteFrameHeader(_scratch, p, part2.Count, false, false);
                _io.GuardedWrite(_scratch, 0, p);
                if (part2.Count > 0) _io.GuardedWrite(part2.Array, part2.Offset, part2.Count);
                return;
            }
            SendFrame(part1, true);
            SendFrame(part2, false);
        }

        public void Send(ArraySegment<byte>[] parts, int count)
        {
            EnsureConnected();
            for (int i = 0; i < count; i++) SendFrame(parts[i], i + 1 < count);
        }

        public bool TryReceive(MultipartMessage message, int timeoutMs)
        {
            EnsureConnected();
            if (message == null) throw new ArgumentNullException(nameof(message));
            long now = NowTicks();
            long deadline = now + MsToTicks(Math.Max(0, timeoutMs));
            try
            {
                while (true)
                {
                    ServiceHeartbeat();
                    if (!_io.HasBuffered)
                    {
                        now = NowTicks();
                        long waitTicks = deadline - now;
                        if (HeartbeatsOn)
                        {
                            long toPing = _lastPingTicks + MsToTicks(_options.HeartbeatIntervalMs) - now;
                            if (toPing < waitTicks) waitTicks = toPing;
                        }
                        if (waitTicks < 0) waitTicks = 0;
                        int waitUs = (int)Math.Min(int.MaxValue, waitTicks * 1000000L / Stopwatch.Frequency);
                        if (!_io.Poll(waitUs))
                        {
                            if (NowTicks() >= deadline) return false;
                            continue;
                        }
                        _io.FillReadBuffer();
                    }
                    if (ReadMessage(message)) return true;
                    if (NowTicks() >= deadline && !_io.HasBuffered) return false;
                }
            }
            catch (SocketException e)
            {
                Fail();
                throw new TransportException("connection to " + _endpoint + " lost: " + e.Message, e);
            }
            catch (ObjectDisposedException e)
            {
                Fail();
                throw new TransportException("connection to " + _endpoint + " was closed", e);
            }
        }

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _connected = false;
            if (_io != null) _io.Fail();
        }

        // ---- receiving ----------------------------------------------------------------------------------

        private bool HeartbeatsOn
        {
            get { return _peerMinor >= 1 && _options.HeartbeatIntervalMs > 0; }
        }

        /// <summary>Reads frames until one whole message has arrived (true) or only a command was
        /// processed (false). Called when at least one byte is buffered.</summary>
        private bool ReadMessage(MultipartMessage message)
        {
            message.Clear();
            long deadline = NowTicks() + MsToTicks(_options.HeartbeatTimeoutMs);
            while (true)
            {
                byte flags = _io.ReadByte(deadline);
                Zmtp.CheckFlags(flags);
                long size;
                if ((flags & Zmtp.FlagLong) != 0)
                {
                    _io.ReadExact(_scratch, 0, 8, deadline);
                    ulong s = Zmtp.ReadUInt64BigEndian(_scratch, 0);
                    if (s > (ulong)_options.MaxFrameBytes || s > int.MaxValue)
                    {
                        throw new TransportException(
                            "the peer sent a " + s + "-byte frame; the limit is TransportOptions.MaxFrameBytes = " +
                            _options.MaxFrameBytes + " (raise it if frames this large are expected)");
                    }
                    size = (long)s;
                }
                else
                {
                    size = _io.ReadByte(deadline);
                }
                _lastReceiveTicks = NowTicks();
                if ((flags & Zmtp.FlagCommand) != 0)
                {
                    if (_commandBuf.Length < size) _commandBuf = new byte[size];
                    _io.ReadExact(_commandBuf, 0, (int)size, deadline);
                    HandleCommand((int)size);
                    if (message.Count == 0) return false;
                    continue; // a command between parts of a message: keep reading the message
                }
                byte[] dst = message.AddPart((int)size);
                _io.ReadExact(dst, 0, (int)size, deadline);
                if ((flags & Zmtp.FlagMore) == 0) return true;
            }
        }

        private void HandleCommand(int length)
        {
            if (Zmtp.IsCommand(_commandBuf, length, "PING"))
            {
                // PING: name, 2-byte TTL, up to 16 bytes context which PONG echoes.
                int ctxOffset = 1 + 4 + 2;
                int ctxLen = Math.Max(0, Math.Min(16, length - ctxOffset));
                int bodyLen = 1 + 4 + ctxLen;
                int h = Zmtp.WriteFrameHeader(_scratch, 0, bodyLen, false, true);
                Zmtp.WritePongBody(_scratch, h, _commandBuf, ctxOffset, ctxLen);
                _io.GuardedWrite(_scratch, 0, h + bodyLen);
                return;
            }
            if (Zmtp.IsCommand(_commandBuf, length, "PONG")) return; // traffic already noted
            if (Zmtp.IsCommand(_commandBuf, length, "ERROR"))
            {
                throw new TransportException(
                    "the server closed the ZMTP session: " + ZmtpHandshake.ErrorReason(_commandBuf, length));
            }
            // Unknown commands are ignored, as ZMTP 3.1 asks.
        }

        private void ServiceHeartbeat()
        {
            if (!HeartbeatsOn) return;
            long now = NowTicks();
            if (now - _lastReceiveTicks > MsToTicks(_options.HeartbeatTimeoutMs))
            {
                Fail();
                throw new TransportException(
                    "no traffic from " + _endpoint + " for " + _options.HeartbeatTimeoutMs +
                    " ms (HeartbeatTimeoutMs): the server is gone or the network is down");
            }
            if (now - _lastPingTicks >= MsToTicks(_options.HeartbeatIntervalMs))
            {
                int ttl = (_options.HeartbeatTimeoutMs + 99) / 100;
                int bodyLen = 1 + 4 + 2;
                int h = Zmtp.WriteFrameHeader(_scratch, 0, bodyLen, false, true);
                Zmtp.WritePingBody(_scratch, h, ttl, _pingContext, 0);
                _io.GuardedWrite(_scratch, 0, h + bodyLen);
                _lastPingTicks = now;
            }
        }

        // ---- sending ------------------------------------------------------------------------------------

        private void SendFrame(ArraySegment<byte> part, bool more)
        {
            int h = Zmtp.WriteFrameHeader(_scratch, 0, part.Count, more, false);
            if (h + part.Count <= ScratchSize)
            {
                Buffer.BlockCopy(part.Array, part.Offset, _scratch, h, part.Count);
                _io.GuardedWrite(_scratch, 0, h + part.Count);
                return;
            }
            _io.GuardedWrite(_scratch, 0, h);
            _io.GuardedWrite(part.Array, part.Offset, part.Count);
        }

        // ---- plumbing -----------------------------------------------------------------------------------

        private void EnsureConnected()
        {
            if (_disposed) throw new ObjectDisposedException(nameof(ManagedZmqTransport));
            if (!IsConnected)
            {
                throw new TransportException(
                    "the transport to '" + _endpoint + "' is not connected; create a new one and call Connect");
            }
        }

        private void Fail()
        {
            _connected = false;
            _io.Fail();
        }

        private static long NowTicks()
        {
            return ZmtpSocket.NowTicks();
        }

        private static long MsToTicks(int ms)
        {
            return ZmtpSocket.MsToTicks(ms);
        }
    }
}
