// A DEALER socket from libzmq through P/Invoke, behind the same ITransport as the managed one. Use it for
// CurveZMQ (set the three Curve keys in TransportOptions). libzmq handles ZMTP heartbeats itself
// (ZMQ_HEARTBEAT_*); a socket monitor turns "disconnected" into a TransportException so BridgeClient
// reconnects with a new handshake (libzmq's own silent reconnect would bring no new Hello).
// Steady state allocates nothing: one unmanaged zmq_msg_t is reused and parts land in pooled buffers.
// Compiled and tested here with mono's mcs (C# 7.2) against Debian's libzmq5 (4.3.4).
using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace StreamDiffusion.Bridge.Core.Transport
{
    /// <summary>libzmq DEALER (needs the native libzmq library). Not thread-safe: one thread uses it.</summary>
    public sealed class NativeZmqTransport : ITransport
    {
        private static int _monitorCounter;

        private readonly TransportOptions _options;
        private IntPtr _context;
        private IntPtr _socket;
        private IntPtr _monitor;
        private IntPtr _msg;        // one zmq_msg_t (64 bytes), reused for every receive
        private int _currentRcvTimeout = int.MinValue;
        private int _monitorRcvTimeout = int.MinValue;
        private string _endpoint = "";
        private bool _connected;
        private bool _disposed;

        public NativeZmqTransport(TransportOptions options)
        {
            if (options == null) throw new ArgumentNullException(nameof(options));
            bool anyCurve = options.CurveServerKey != null || options.CurvePublicKey != null || options.CurveSecretKey != null;
            bool allCurve = options.CurveServerKey != null && options.CurvePublicKey != null && options.CurveSecretKey != null;
            if (anyCurve && !allCurve)
            {
                throw new ArgumentException(
                    "CurveZMQ needs all three keys (CurveServerKey, CurvePublicKey, CurveSecretKey); some are null",
                    nameof(options));
            }
            _options = options;
        }

        /// <summary>libzmq's version as "major.minor.patch" (throws DllNotFoundException without libzmq).</summary>
        public static string LibraryVersion()
        {
            int major, minor, patch;
            LibZmq.zmq_version(out major, out minor, out patch);
            return major + "." + minor + "." + patch;
        }

        public bool IsConnected { get { return _connected && !_disposed; } }

        public void Connect(string endpoint)
        {
            if (_disposed) throw new ObjectDisposedException(nameof(NativeZmqTransport));
            if (_socket != IntPtr.Zero) throw new InvalidOperationException("Connect may be called once per transport");
            if (endpoint == null) throw new ArgumentNullException(nameof(endpoint));
            _endpoint = endpoint;
            try
            {
                _context = LibZmq.zmq_ctx_new();
            }
            catch (DllNotFoundException e)
            {
                throw new TransportException(
                    "the native transport needs the libzmq library (libzmq.dll / libzmq.so / libzmq.dylib as a " +
                    "native plugin); install it or use TransportKind.Managed", e);
            }
            if (_context == IntPtr.Zero) throw new TransportException("zmq_ctx_new failed: " + LibZmq.LastError());
            _msg = Marshal.AllocHGlobal(LibZmq.MsgSize);
            LibZmq.zmq_msg_init(_msg);
            _socket = LibZmq.zmq_socket(_context, LibZmq.ZMQ_DEALER);
            if (_socket == IntPtr.Zero) throw new TransportException("zmq_socket(DEALER) failed: " + LibZmq.LastError());
            SetOptions();
            StartMonitor();
            if (LibZmq.zmq_connect(_socket, endpoint) != 0)
            {
                string err = LibZmq.LastError();
                DisposeNative();
                throw new TransportException("zmq_connect('" + endpoint + "') failed: " + err +
                                             "; endpoints look like tcp://127.0.0.1:5555");
            }
            WaitConnected(endpoint);
            _connected = true;
        }

        // The DEALER's options: small queues, no silent reconnect, the timeouts, heartbeats, identity and Curve keys.
        private void SetOptions()
        {
            SetInt(LibZmq.ZMQ_LINGER, 0);
            SetInt(LibZmq.ZMQ_SNDHWM, 4);
            SetInt(LibZmq.ZMQ_RCVHWM, 4);
            SetInt(LibZmq.ZMQ_SNDTIMEO, Math.Max(1, _options.SendTimeoutMs));
            SetInt(LibZmq.ZMQ_IMMEDIATE, 1);           // queue nothing until the connection is up
            SetInt(LibZmq.ZMQ_RECONNECT_IVL, -1);      // BridgeClient reconnects with a fresh socket + Hello
            SetInt(LibZmq.ZMQ_CONNECT_TIMEOUT, Math.Max(1, _options.ConnectTimeoutMs));
            if (_options.MaxFrameBytes > 0 && _options.MaxFrameBytes <= int.MaxValue)
            {
                // libzmq takes an int64 here.
                var max = BitConverter.GetBytes(_options.MaxFrameBytes);
                Check(LibZmq.zmq_setsockopt(_socket, LibZmq.ZMQ_MAXMSGSIZE, max, (UIntPtr)8), "ZMQ_MAXMSGSIZE");
            }
            if (_options.HeartbeatIntervalMs > 0)
            {
                SetInt(LibZmq.ZMQ_HEARTBEAT_IVL, _options.HeartbeatIntervalMs);
                SetInt(LibZmq.ZMQ_HEARTBEAT_TIMEOUT, _options.HeartbeatTimeoutMs);
                SetInt(LibZmq.ZMQ_HEARTBEAT_TTL, _options.HeartbeatTimeoutMs);
            }
            if (_options.Identity != null && _options.Identity.Length > 0)
            {
                Check(LibZmq.zmq_setsockopt(_socket, LibZmq.ZMQ_ROUTING_ID, _options.Identity,
                    (UIntPtr)_options.Identity.Length), "ZMQ_ROUTING_ID");
            }
            if (_options.CurveServerKey != null)
            {
                SetZ85(LibZmq.ZMQ_CURVE_SERVERKEY, _options.CurveServerKey, "CurveServerKey");
                SetZ85(LibZmq.ZMQ_CURVE_PUBLICKEY, _options.CurvePublicKey, "CurvePublicKey");
                SetZ85(LibZmq.ZMQ_CURVE_SECRETKEY, _options.CurveSecretKey, "CurveSecretKey");
            }
        }

        // A PAIR socket on the DEALER's monitor: PollMonitor reads connect, disconnect and close events from it.
        private void StartMonitor()
        {
            string monitorAddress = "inproc://sdbridge-monitor-" + Interlocked.Increment(ref _monitorCounter);
            Check(LibZmq.zmq_socket_monitor(_socket, monitorAddress,
                LibZmq.ZMQ_EVENT_CONNECTED | LibZmq.ZMQ_EVENT_DISCONNECTED | LibZmq.ZMQ_EVENT_CLOSED),
                "zmq_socket_monitor");
            _monitor = LibZmq.zmq_socket(_context, LibZmq.ZMQ_PAIR);
            SetInt(_monitor, LibZmq.ZMQ_LINGER, 0);
            Check(LibZmq.zmq_connect(_monitor, monitorAddress), "connect monitor");
        }

        // Waits for the TCP + ZMTP connection so Connect fails fast like the managed transport does.
        private void WaitConnected(string endpoint)
        {
            int waited = 0;
            while (true)
            {
                int ev = PollMonitor(Math.Min(50, _options.ConnectTimeoutMs - waited));
                if (ev == LibZmq.ZMQ_EVENT_CONNECTED) break;
                if (ev == LibZmq.ZMQ_EVENT_CLOSED)
                {
                    // With ZMQ_RECONNECT_IVL = -1 a refused connect closes the connection for good.
                    DisposeNative();
                    throw new TransportException(
                        "cannot connect to " + endpoint + " (connection refused or closed): is `sdbridge serve` " +
                        "running there?");
                }
                waited += 50;
                if (waited >= _options.ConnectTimeoutMs)
                {
                    DisposeNative();
                    throw new TransportException(
                        "cannot connect to " + endpoint + " within " + _options.ConnectTimeoutMs +
                        " ms: is `sdbridge serve` running there?");
                }
            }
        }

        public void Send(ArraySegment<byte> part1)
        {
            EnsureConnected();
            SendPart(part1, 0);
        }

        public void Send(ArraySegment<byte> part1, ArraySegment<byte> part2)
        {
            EnsureConnected();
            SendPart(part1, LibZmq.ZMQ_SNDMORE);
            SendPart(part2, 0);
        }

        public void Send(ArraySegment<byte>[] parts, int count)
        {
            EnsureConnected();
            for (int i = 0; i < count; i++) SendPart(parts[i], i + 1 < count ? LibZmq.ZMQ_SNDMORE : 0);
        }

        public bool TryReceive(MultipartMessage message, int timeoutMs)
        {
            EnsureConnected();
            if (message == null) throw new ArgumentNullException(nameof(message));
            int monitorEvent = PollMonitor(0);
            if (monitorEvent == LibZmq.ZMQ_EVENT_DISCONNECTED || monitorEvent == LibZmq.ZMQ_EVENT_CLOSED)
            {
                _connected = false;
                throw new TransportException("the connection to " + _endpoint + " was lost (libzmq: disconnected)");
            }
            message.Clear();
            int timeout = Math.Max(0, timeoutMs);
            while (true)
            {
                SetReceiveTimeout(message.Count == 0 ? timeout : Math.Max(1, _options.HeartbeatTimeoutMs));
                int rc = LibZmq.zmq_msg_recv(_msg, _socket, 0);
                if (rc < 0)
                {
                    int errno = LibZmq.zmq_errno();
                    if (LibZmq.IsAgain(errno) && message.Count == 0) return false;
                    if (errno == LibZmq.EINTR) continue;
                    _connected = false;
                    throw new TransportException("zmq_msg_recv from " + _endpoint + " failed: " + LibZmq.LastError());
                }
                int size = (int)LibZmq.zmq_msg_size(_msg);
                byte[] dst = message.AddPart(size);
                if (size > 0) Marshal.Copy(LibZmq.zmq_msg_data(_msg), dst, 0, size);
                if (LibZmq.zmq_msg_more(_msg) == 0) return true;
            }
        }

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            _connected = false;
            DisposeNative();
        }

        private unsafe void SendPart(ArraySegment<byte> part, int flags)
        {
            int rc;
            fixed (byte* p = part.Array)
            {
                byte* start = p == null ? null : p + part.Offset;
                rc = LibZmq.zmq_send(_socket, start, (UIntPtr)part.Count, flags);
            }
            if (rc < 0)
            {
                _connected = false;
                int errno = LibZmq.zmq_errno();
                if (LibZmq.IsAgain(errno))
                {
                    throw new TransportException(
                        "sending to " + _endpoint + " blocked for more than SendTimeoutMs = " + _options.SendTimeoutMs +
                        " ms: the server is not reading");
                }
                throw new TransportException("zmq_send to " + _endpoint + " failed: " + LibZmq.LastError());
            }
        }

        /// <summary>Returns the next monitor event id, or 0 when none arrived within the timeout.</summary>
        private int PollMonitor(int timeoutMs)
        {
            int timeout = Math.Max(0, timeoutMs);
            if (timeout != _monitorRcvTimeout)
            {
                SetInt(_monitor, LibZmq.ZMQ_RCVTIMEO, timeout);
                _monitorRcvTimeout = timeout;
            }
            int rc = LibZmq.zmq_msg_recv(_msg, _monitor, 0);
            if (rc < 0) return 0;
            // Frame 1: uint16 event id + uint32 value (native byte order); frame 2: the endpoint string.
            int ev = 0;
            if ((int)LibZmq.zmq_msg_size(_msg) >= 2) ev = Marshal.ReadInt16(LibZmq.zmq_msg_data(_msg)) & 0xFFFF;
            while (LibZmq.zmq_msg_more(_msg) != 0)
            {
                if (LibZmq.zmq_msg_recv(_msg, _monitor, 0) < 0) break;
            }
            return ev;
        }

        private void SetReceiveTimeout(int ms)
        {
            if (ms == _currentRcvTimeout) return;
            SetInt(LibZmq.ZMQ_RCVTIMEO, ms);
            _currentRcvTimeout = ms;
        }

        private void SetInt(int option, int value)
        {
            SetInt(_socket, option, value);
        }

        private static void SetInt(IntPtr socket, int option, int value)
        {
            int v = value;
            if (LibZmq.zmq_setsockopt(socket, option, ref v, (UIntPtr)4) != 0)
            {
                // The message is built only on failure: this runs every receive and must not allocate.
                throw new TransportException("zmq_setsockopt(" + option + ", " + value + ") failed: " + LibZmq.LastError());
            }
        }

        private void SetZ85(int option, string key, string name)
        {
            if (key.Length != 40)
            {
                throw new ArgumentException(name + " must be a 40-character Z85 key; got " + key.Length + " characters");
            }
            var bytes = new byte[41];
            System.Text.Encoding.ASCII.GetBytes(key, 0, 40, bytes, 0);
            Check(LibZmq.zmq_setsockopt(_socket, option, bytes, (UIntPtr)41), name);
        }

        private static void Check(int rc, string what)
        {
            if (rc != 0) throw new TransportException(what + " failed: " + LibZmq.LastError());
        }

        private void EnsureConnected()
        {
            if (_disposed) throw new ObjectDisposedException(nameof(NativeZmqTransport));
            if (!_connected)
            {
                throw new TransportException(
                    "the transport to '" + _endpoint + "' is not connected; create a new one and call Connect");
            }
        }

        private void DisposeNative()
        {
            if (_monitor != IntPtr.Zero)
            {
                LibZmq.zmq_close(_monitor);
                _monitor = IntPtr.Zero;
            }
            if (_socket != IntPtr.Zero)
            {
                LibZmq.zmq_socket_monitor(_socket, null, 0);
                LibZmq.zmq_close(_socket);
                _socket = IntPtr.Zero;
            }
            if (_msg != IntPtr.Zero)
            {
                LibZmq.zmq_msg_close(_msg);
                Marshal.FreeHGlobal(_msg);
                _msg = IntPtr.Zero;
            }
            if (_context != IntPtr.Zero)
            {
                LibZmq.zmq_ctx_term(_context);
                _context = IntPtr.Zero;
            }
        }
    }
}
