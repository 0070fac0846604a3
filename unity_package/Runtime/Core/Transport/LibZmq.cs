// P/Invoke declarations for the libzmq 4.x C API (zmq.h). The library name is "libzmq": on Windows Unity
// loads libzmq.dll, on macOS libzmq.bundle/.dylib, on Linux players libzmq.so placed as a native plugin.
// Under mono here, unity_package/Tests~/build.sh writes a dllmap mapping "libzmq" to Debian's libzmq.so.5.
// Compiled and tested here with mono's mcs (C# 7.2) against Debian's libzmq 4.3.4.
using System;
using System.Runtime.InteropServices;

namespace StreamDiffusion.Bridge.Core.Transport
{
    internal static class LibZmq
    {
#if (UNITY_IOS || UNITY_TVOS) && !UNITY_EDITOR
        // iOS/tvOS players link native plugins statically into the app: P/Invoke must name "__Internal"
        // (Unity manual, "Native plug-ins for iOS"); libzmq.a is imported for iOS by the package's plugin settings.
        private const string Lib = "__Internal";
#else
        private const string Lib = "libzmq";
#endif

        public const int ZMQ_PAIR = 0;
        public const int ZMQ_DEALER = 5;
        public const int ZMQ_ROUTING_ID = 5;
        public const int ZMQ_RCVMORE = 13;
        public const int ZMQ_LINGER = 17;
        public const int ZMQ_RECONNECT_IVL = 18;
        public const int ZMQ_MAXMSGSIZE = 22;
        public const int ZMQ_SNDHWM = 23;
        public const int ZMQ_RCVHWM = 24;
        public const int ZMQ_RCVTIMEO = 27;
        public const int ZMQ_SNDTIMEO = 28;
        public const int ZMQ_IMMEDIATE = 39;
        public const int ZMQ_CURVE_PUBLICKEY = 48;
        public const int ZMQ_CURVE_SECRETKEY = 49;
        public const int ZMQ_CURVE_SERVERKEY = 50;
        public const int ZMQ_HEARTBEAT_IVL = 75;
        public const int ZMQ_HEARTBEAT_TTL = 76;
        public const int ZMQ_HEARTBEAT_TIMEOUT = 77;
        public const int ZMQ_CONNECT_TIMEOUT = 79;
        public const int ZMQ_DONTWAIT = 1;
        public const int ZMQ_SNDMORE = 2;
        public const int ZMQ_EVENT_CONNECTED = 0x0001;
        public const int ZMQ_EVENT_CLOSED = 0x0080;
        public const int ZMQ_EVENT_DISCONNECTED = 0x0200;
        public const int EAGAIN = 11;         // libzmq uses the platform errno; 11 on Linux, macOS 35 (below)
        public const int EAGAIN_DARWIN = 35;
        public const int EINTR = 4;
        /// <summary>zmq_msg_t is 64 bytes (8-byte aligned) on every platform libzmq supports.</summary>
        public const int MsgSize = 64;

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern void zmq_version(out int major, out int minor, out int patch);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr zmq_ctx_new();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int zmq_ctx_term(IntPtr context);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr zmq_socket(IntPtr context, int type);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int zmq_close(IntPtr socket);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int zmq_setsockopt(IntPtr socket, int option, ref int value, UIntPtr size);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int zmq_setsockopt(IntPtr socket, int option, byte[] value, UIntPtr size);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int zmq_getsockopt(IntPtr socket, int option, ref int value, ref UIntPtr size);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, CharSet = CharSet.Ansi)]
        public static extern int zmq_connect(IntPtr socket, [MarshalAs(UnmanagedType.LPStr)] string endpoint);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, CharSet = CharSet.Ansi)]
        public static extern int zmq_socket_monitor(IntPtr socket, [MarshalAs(UnmanagedType.LPStr)] string address,
            int events);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern unsafe int zmq_send(IntPtr socket, byte* buffer, UIntPtr length, int flags);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int zmq_msg_init(IntPtr msg);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int zmq_msg_recv(IntPtr msg, IntPtr socket, int flags);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr zmq_msg_data(IntPtr msg);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern UIntPtr zmq_msg_size(IntPtr msg);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int zmq_msg_more(IntPtr msg);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int zmq_msg_close(IntPtr msg);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern int zmq_errno();

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr zmq_strerror(int errnum);

        public static bool IsAgain(int errno)
        {
            return errno == EAGAIN || errno == EAGAIN_DARWIN;
        }

        public static string LastError()
        {
            int e = zmq_errno();
            return Marshal.PtrToStringAnsi(zmq_strerror(e)) + " (errno " + e + ")";
        }
    }
}
