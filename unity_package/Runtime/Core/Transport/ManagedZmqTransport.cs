// A ZeroMQ DEALER written in C# over System.Net.Sockets: ZMTP 3.1 with the NULL mechanism (greeting, READY
// with Socket-Type and Identity, multipart MORE flags, short and long frames, PING/PONG heartbeats). It needs
// no native library, so it runs in IL2CPP players on every platform. Talks to libzmq ROUTER sockets (the
// Python server uses pyzmq). One thread uses an instance; steady-state sends and receives allocate nothing.
// Compiled and tested here with mono's mcs (C# 7.2) against pyzmq/libzmq 4.3.
using System;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace StreamDiffusion.Bridge.Core.Transport
{
    /// <summary>Pure C# ZMTP 3.1 DEALER (NULL security). Not thread-safe: one thread uses it.</summary>
    public sealed class ManagedZmqTransport : ITransport
    {
        private const int ReadBufferSize = 64 * 1024;
        private const int ScratchSize = 64 * 1024;

        private readonly TransportOptions _options;
        private readonly byte[] _readBuf = new byte[ReadBufferSize];
        private int _readPos;
        private int _readLen;
        private readonly byte[] _scratch = new byte[ScratchSize];  // outgoing headers, small bodies, commands
        private byte[] _commandBuf = new byte[512];                // incoming command bodies
        private readonly byte[] _pingContext = new byte[0];
        private Socket _socket;
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

        public bool IsConnected { get { return _connected && !_disposed; } }

        public void Connect(string endpoint)
        {
            if (_disposed) throw new ObjectDisposedException(nameof(ManagedZmqTransport));
            if (_socket != null) throw new InvalidOperationException("Connect may be called once per transport");
            TcpEndpoint ep = TcpEndpoint.Parse(endpoint);
            _endpoint = endpoint;
            long deadline = NowTicks() + MsToTicks(_options.ConnectTimeoutMs);
            _socket = OpenSocket(ep, _options.ConnectTimeoutMs);
            try
            {
                _socket.NoDelay = true;
                _socket.SendTimeout = Math.Max(1, _options.SendTimeoutMs);
                // Greeting: we send all 64 bytes at once (libzmq accepts this), then read the peer's 64.
                Zmtp.WriteGreeting(_scratch);
                WriteAll(_scratch, 0, Zmtp.GreetingSize);
                var greeting = new byte[Zmtp.GreetingSize];
                try
                {
                    ReadExact(greeting, 0, greeting.Length, deadline);
                }
                catch (TransportException e)
                {
                    // libzmq drops a peer whose greeting names another security mechanism before finishing its own.
                    throw new TransportException(
                        "the ZMTP greeting with " + endpoint + " failed (" + e.Message + "): the server may require a " +
                        "security mechanism such as CURVE, which only TransportKind.Native (with Curve keys) speaks, " +
                        "or the endpoint is not a ZeroMQ socket", e);
                }
                _peerMinor = Zmtp.ParseGreeting(greeting);

                // NULL mechanism: READY both ways.
                int bodyLen = Zmtp.ReadyBodySize("DEALER", _options.Identity);
                int h = Zmtp.WriteFrameHeader(_scratch, 0, bodyLen, false, true);
                Zmtp.WriteReadyBody(_scratch, h, "DEALER", _options.Identity);
                WriteAll(_scratch, 0, h + bodyLen);

                int cmdLen = ReadCommandFrame(deadline);
                if (Zmtp.IsCommand(_commandBuf, cmdLen, "ERROR"))
                {
                    throw new TransportException("the server refused the ZMTP handshake: " + ErrorReason(cmdLen));
                }
                if (!Zmtp.IsCommand(_commandBuf, cmdLen, "READY"))
                {
                    throw new TransportException(
                        "expected the ZMTP READY command from " + endpoint + ", got '" +
                        Zmtp.CommandName(_commandBuf, cmdLen) + "'");
                }
                byte[] peerType = Zmtp.FindProperty(_commandBuf, cmdLen, "Socket-Type");
                string type = peerType == null ? "" : System.Text.Encoding.ASCII.GetString(peerType);
                if (type != "ROUTER" && type != "DEALER")
                {
                    throw new TransportException(
                        "the socket at " + endpoint + " is a ZeroMQ '" + type + "'; a DEALER talks to a ROUTER " +
                        "(the sdbridge server) or a DEALER");
                }
                _socket.ReceiveTimeout = Math.Max(1, _options.HeartbeatTimeoutMs);
                _lastReceiveTicks = NowTicks();
                _lastPingTicks = _lastReceiveTicks;
                _connected = true;
            }
            catch (SocketException e)
            {
                CloseSocket();
                throw new TransportException("ZMTP handshake with " + endpoint + " failed: " + e.Message, e);
            }
            catch (Exception)
            {
                CloseSocket();
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
                GuardedWrite(_scratch, 0, p);
                if (part2.Count > 0) GuardedWrite(part2.Array, part2.Offset, part2.Count);
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
                    if (_readPos == _readLen)
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
                        if (!_socket.Poll(waitUs, SelectMode.SelectRead))
                        {
                            if (NowTicks() >= deadline) return false;
                            continue;
                        }
                        FillReadBuffer();
                    }
                    if (ReadMessage(message)) return true;
                    if (NowTicks() >= deadline && _readPos == _readLen) return false;
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
            CloseSocket();
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
                byte flags = ReadByte(deadline);
                Zmtp.CheckFlags(flags);
                long size;
                if ((flags & Zmtp.FlagLong) != 0)
                {
                    ReadExact(_scratch, 0, 8, deadline);
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
                    size = ReadByte(deadline);
                }
                _lastReceiveTicks = NowTicks();
                if ((flags & Zmtp.FlagCommand) != 0)
                {
                    if (_commandBuf.Length < size) _commandBuf = new byte[size];
                    ReadExact(_commandBuf, 0, (int)size, deadline);
                    HandleCommand((int)size);
                    if (message.Count == 0) return false;
                    continue; // a command between parts of a message: keep reading the message
                }
                byte[] dst = message.AddPart((int)size);
                ReadExact(dst, 0, (int)size, deadline);
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
                GuardedWrite(_scratch, 0, h + bodyLen);
                return;
            }
            if (Zmtp.IsCommand(_commandBuf, length, "PONG")) return; // traffic already noted
            if (Zmtp.IsCommand(_commandBuf, length, "ERROR"))
            {
                throw new TransportException("the server closed the ZMTP session: " + ErrorReason(length));
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
                GuardedWrite(_scratch, 0, h + bodyLen);
                _lastPingTicks = now;
            }
        }

        private int ReadCommandFrame(long deadline)
        {
            byte flags = ReadByte(deadline);
            Zmtp.CheckFlags(flags);
            if ((flags & Zmtp.FlagCommand) == 0)
                throw new TransportException("expected a ZMTP command frame during the handshake, got a message frame");
            long size;
            if ((flags & Zmtp.FlagLong) != 0)
            {
                ReadExact(_scratch, 0, 8, deadline);
                ulong s = Zmtp.ReadUInt64BigEndian(_scratch, 0);
                if (s > 65536) throw new TransportException("ZMTP handshake command of " + s + " bytes exceeds 65536");
                size = (long)s;
            }
            else
            {
                size = ReadByte(deadline);
            }
            if (_commandBuf.Length < size) _commandBuf = new byte[size];
            ReadExact(_commandBuf, 0, (int)size, deadline);
            return (int)size;
        }

        private string ErrorReason(int length)
        {
            int p = 1 + _commandBuf[0];
            if (p >= length) return "(no reason given)";
            int n = Math.Min(_commandBuf[p], length - p - 1);
            return System.Text.Encoding.ASCII.GetString(_commandBuf, p + 1, n);
        }

        private byte ReadByte(long deadline)
        {
            if (_readPos == _readLen) FillReadBuffer(deadline);
            return _readBuf[_readPos++];
        }

        private void ReadExact(byte[] dst, int offset, int count, long deadline)
        {
            while (count > 0)
            {
                int buffered = _readLen - _readPos;
                if (buffered > 0)
                {
                    int n = Math.Min(buffered, count);
                    Buffer.BlockCopy(_readBuf, _readPos, dst, offset, n);
                    _readPos += n;
                    offset += n;
                    count -= n;
                    continue;
                }
                if (count >= ReadBufferSize)
                {
                    // Large bodies (pixels) are read straight into the destination.
                    int n = ReceiveSome(dst, offset, count, deadline);
                    offset += n;
                    count -= n;
                    continue;
                }
                FillReadBuffer(deadline);
            }
        }

        private void FillReadBuffer()
        {
            FillReadBuffer(NowTicks() + MsToTicks(_options.HeartbeatTimeoutMs));
        }

        private void FillReadBuffer(long deadline)
        {
            _readPos = 0;
            _readLen = 0;
            _readLen = ReceiveSome(_readBuf, 0, ReadBufferSize, deadline);
        }

        private int ReceiveSome(byte[] dst, int offset, int count, long deadline)
        {
            while (true)
            {
                long left = deadline - NowTicks();
                if (left <= 0)
                {
                    throw new TransportException(
                        "timed out reading from " + _endpoint + " in the middle of a ZMTP frame");
                }
                int leftUs = (int)Math.Min(int.MaxValue, left * 1000000L / Stopwatch.Frequency);
                if (!_socket.Poll(leftUs, SelectMode.SelectRead)) continue;
                SocketError err;
                int n = _socket.Receive(dst, offset, count, SocketFlags.None, out err);
                if (err == SocketError.WouldBlock || err == SocketError.TimedOut || err == SocketError.Interrupted) continue;
                if (err != SocketError.Success)
                {
                    Fail();
                    throw new TransportException("receive from " + _endpoint + " failed: " + err);
                }
                if (n == 0)
                {
                    Fail();
                    throw new TransportException("the server at " + _endpoint + " closed the connection");
                }
                return n;
            }
        }

        // ---- sending ------------------------------------------------------------------------------------

        private void SendFrame(ArraySegment<byte> part, bool more)
        {
            int h = Zmtp.WriteFrameHeader(_scratch, 0, part.Count, more, false);
            if (h + part.Count <= ScratchSize)
            {
                Buffer.BlockCopy(part.Array, part.Offset, _scratch, h, part.Count);
                GuardedWrite(_scratch, 0, h + part.Count);
                return;
            }
            GuardedWrite(_scratch, 0, h);
            GuardedWrite(part.Array, part.Offset, part.Count);
        }

        private void GuardedWrite(byte[] buf, int offset, int count)
        {
            try
            {
                WriteAll(buf, offset, count);
            }
            catch (SocketException e)
            {
                Fail();
                throw new TransportException("send to " + _endpoint + " failed: " + e.Message, e);
            }
            catch (ObjectDisposedException e)
            {
                Fail();
                throw new TransportException("connection to " + _endpoint + " was closed", e);
            }
        }

        private void WriteAll(byte[] buf, int offset, int count)
        {
            while (count > 0)
            {
                SocketError err;
                int n = _socket.Send(buf, offset, count, SocketFlags.None, out err);
                if (err != SocketError.Success)
                {
                    Fail();
                    if (err == SocketError.WouldBlock || err == SocketError.TimedOut)
                    {
                        throw new TransportException(
                            "sending to " + _endpoint + " blocked for more than SendTimeoutMs = " +
                            _options.SendTimeoutMs + " ms: the server is not reading");
                    }
                    throw new TransportException("send to " + _endpoint + " failed: " + err);
                }
                offset += n;
                count -= n;
            }
        }

        // ---- plumbing -----------------------------------------------------------------------------------

        private static Socket OpenSocket(TcpEndpoint ep, int timeoutMs)
        {
            IPAddress[] addresses;
            IPAddress literal;
            if (IPAddress.TryParse(ep.Host, out literal))
            {
                addresses = new[] { literal };
            }
            else
            {
                try
                {
                    addresses = Dns.GetHostAddresses(ep.Host);
                }
                catch (SocketException e)
                {
                    throw new TransportException("cannot resolve host '" + ep.Host + "': " + e.Message, e);
                }
            }
            Exception last = null;
            foreach (IPAddress address in addresses)
            {
                var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    IAsyncResult ar = socket.BeginConnect(new IPEndPoint(address, ep.Port), null, null);
                    if (!ar.AsyncWaitHandle.WaitOne(Math.Max(1, timeoutMs)))
                    {
                        socket.Close();
                        last = new TimeoutException("connect timed out after " + timeoutMs + " ms");
                        continue;
                    }
                    socket.EndConnect(ar);
                    return socket;
                }
                catch (SocketException e)
                {
                    socket.Close();
                    last = e;
                }
            }
            throw new TransportException(
                "cannot connect to tcp://" + ep.Host + ":" + ep.Port + " (" +
                (last == null ? "no address" : last.Message) + "): is `sdbridge serve` running there?", last);
        }

        private void EnsureConnected()
        {
            if (_disposed) throw new ObjectDisposedException(nameof(ManagedZmqTransport));
            if (!_connected)
            {
                throw new TransportException(
                    "the transport to '" + _endpoint + "' is not connected; create a new one and call Connect");
            }
        }

        private void Fail()
        {
            _connected = false;
            CloseSocket();
        }

        private void CloseSocket()
        {
            Socket s = _socket;
            if (s == null) return;
            try
            {
                s.Close();
            }
            catch (SocketException)
            {
                // closing a broken socket: nothing more to do
            }
        }

        private static long NowTicks()
        {
            return Stopwatch.GetTimestamp();
        }

        private static long MsToTicks(int ms)
        {
            return ms * Stopwatch.Frequency / 1000;
        }
    }
}
