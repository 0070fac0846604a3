// The socket I/O under ManagedZmqTransport: TCP connect (DNS, one try per address within ConnectTimeoutMs), a 64 KiB
// read buffer with deadline-bounded reads (large bodies go straight into their destination), blocking writes bounded
// by SendTimeoutMs, and the failure state. No ZMTP here: the greeting and READY exchange are in ZmtpHandshake.cs,
// the framing in ManagedZmqTransport.cs. Steady-state reads and writes allocate nothing.
// Compiled and tested here with mono's mcs (C# 7.2) against pyzmq/libzmq 4.3.
using System;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace StreamDiffusion.Bridge.Core.Transport
{
    /// <summary>A connected TCP socket with a read buffer; every error becomes a TransportException naming the
    /// endpoint, and any I/O failure closes the socket (Failed). Not thread-safe: one thread uses it.</summary>
    internal sealed class ZmtpSocket
    {
        private const int ReadBufferSize = 64 * 1024;

        private readonly Socket _socket;
        private readonly string _endpoint;
        private readonly TransportOptions _options;
        private readonly byte[] _readBuf = new byte[ReadBufferSize];
        private int _readPos;
        private int _readLen;
        private bool _failed;

        private ZmtpSocket(Socket socket, string endpoint, TransportOptions options)
        {
            _socket = socket;
            _endpoint = endpoint;
            _options = options;
        }

        /// <summary>True once an I/O error or Close ended the connection.</summary>
        internal bool Failed { get { return _failed; } }

        /// <summary>True when received bytes wait in the read buffer.</summary>
        internal bool HasBuffered { get { return _readPos != _readLen; } }

        /// <summary>Opens the TCP connection to ep (endpoint: its text, for messages) within ConnectTimeoutMs, with
        /// Nagle off and the send timeout set.</summary>
        internal static ZmtpSocket Open(TcpEndpoint ep, string endpoint, TransportOptions options)
        {
            Socket socket = Connect(ep, options.ConnectTimeoutMs);
            var io = new ZmtpSocket(socket, endpoint, options);
            try
            {
                socket.NoDelay = true;
                socket.SendTimeout = Math.Max(1, options.SendTimeoutMs);
            }
            catch (SocketException e)
            {
                io.Fail();
                throw new TransportException("ZMTP handshake with " + endpoint + " failed: " + e.Message, e);
            }
            return io;
        }

        /// <summary>Sets the socket's receive timeout (ms, at least 1).</summary>
        internal void SetReceiveTimeout(int ms)
        {
            _socket.ReceiveTimeout = Math.Max(1, ms);
        }

        /// <summary>Waits up to waitUs microseconds for readable data (Socket.Poll).</summary>
        internal bool Poll(int waitUs)
        {
            return _socket.Poll(waitUs, SelectMode.SelectRead);
        }

        internal byte ReadByte(long deadline)
        {
            if (_readPos == _readLen) FillReadBuffer(deadline);
            return _readBuf[_readPos++];
        }

        internal void ReadExact(byte[] dst, int offset, int count, long deadline)
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

        /// <summary>Refills the read buffer, waiting up to HeartbeatTimeoutMs for the first bytes.</summary>
        internal void FillReadBuffer()
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

        /// <summary>WriteAll, with socket exceptions turned into TransportException (and the socket closed).</summary>
        internal void GuardedWrite(byte[] buf, int offset, int count)
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

        internal void WriteAll(byte[] buf, int offset, int count)
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

        /// <summary>Marks the connection failed and closes the socket (idempotent).</summary>
        internal void Fail()
        {
            _failed = true;
            try
            {
                _socket.Close();
            }
            catch (SocketException)
            {
                // closing a broken socket: nothing more to do
            }
        }

        internal static long NowTicks()
        {
            return Stopwatch.GetTimestamp();
        }

        internal static long MsToTicks(int ms)
        {
            return ms * Stopwatch.Frequency / 1000;
        }

        private static Socket Connect(TcpEndpoint ep, int timeoutMs)
        {
            Exception last = null;
            foreach (IPAddress address in Resolve(ep.Host))
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

        private static IPAddress[] Resolve(string host)
        {
            IPAddress literal;
            if (IPAddress.TryParse(host, out literal)) return new[] { literal };
            try
            {
                return Dns.GetHostAddresses(host);
            }
            catch (SocketException e)
            {
                throw new TransportException("cannot resolve host '" + host + "': " + e.Message, e);
            }
        }
    }
}
