// The ZMTP 3.1 handshake of ManagedZmqTransport with the NULL mechanism: both 64-byte greetings, then READY both ways
// (ours names Socket-Type DEALER and the Identity; the peer's must be a ROUTER or DEALER). An ERROR command or a
// greeting that fails (the peer wants CURVE, or is no ZeroMQ socket) becomes a TransportException that names the fix.
// Compiled and tested here with mono's mcs (C# 7.2) against pyzmq/libzmq 4.3.
using System;

namespace StreamDiffusion.Bridge.Core.Transport
{
    /// <summary>ZMTP greeting and NULL-mechanism READY exchange over a freshly opened ZmtpSocket.</summary>
    internal static class ZmtpHandshake
    {
        /// <summary>Runs the handshake before deadline (Stopwatch ticks) and returns the peer's ZMTP minor version.
        /// scratch: at least 64 bytes plus a READY frame; commandBuf grows to the peer's READY.</summary>
        internal static int Run(ZmtpSocket io, byte[] scratch, ref byte[] commandBuf, TransportOptions options,
            string endpoint, long deadline)
        {
            // Greeting: we send all 64 bytes at once (libzmq accepts this), then read the peer's 64.
            Zmtp.WriteGreeting(scratch);
            io.WriteAll(scratch, 0, Zmtp.GreetingSize);
            var greeting = new byte[Zmtp.GreetingSize];
            try
            {
                io.ReadExact(greeting, 0, greeting.Length, deadline);
            }
            catch (TransportException e)
            {
                // libzmq drops a peer whose greeting names another security mechanism before finishing its own.
                throw new TransportException(
                    "the ZMTP greeting with " + endpoint + " failed (" + e.Message + "): the server may require a " +
                    "security mechanism such as CURVE, which only TransportKind.Native (with Curve keys) speaks, " +
                    "or the endpoint is not a ZeroMQ socket", e);
            }
            int peerMinor = Zmtp.ParseGreeting(greeting);

            // NULL mechanism: READY both ways.
            int bodyLen = Zmtp.ReadyBodySize("DEALER", options.Identity);
            int h = Zmtp.WriteFrameHeader(scratch, 0, bodyLen, false, true);
            Zmtp.WriteReadyBody(scratch, h, "DEALER", options.Identity);
            io.WriteAll(scratch, 0, h + bodyLen);
            int cmdLen = ReadCommandFrame(io, scratch, ref commandBuf, deadline);
            CheckReady(commandBuf, cmdLen, endpoint);
            return peerMinor;
        }

        /// <summary>The reason text of an ERROR command body (name, then a 1-byte-length reason).</summary>
        internal static string ErrorReason(byte[] command, int length)
        {
            int p = 1 + command[0];
            if (p >= length) return "(no reason given)";
            int n = Math.Min(command[p], length - p - 1);
            return System.Text.Encoding.ASCII.GetString(command, p + 1, n);
        }

        private static void CheckReady(byte[] command, int cmdLen, string endpoint)
        {
            if (Zmtp.IsCommand(command, cmdLen, "ERROR"))
            {
                throw new TransportException("the server refused the ZMTP handshake: " + ErrorReason(command, cmdLen));
            }
            if (!Zmtp.IsCommand(command, cmdLen, "READY"))
            {
                throw new TransportException(
                    "expected the ZMTP READY command from " + endpoint + ", got '" +
                    Zmtp.CommandName(command, cmdLen) + "'");
            }
            byte[] peerType = Zmtp.FindProperty(command, cmdLen, "Socket-Type");
            string type = peerType == null ? "" : System.Text.Encoding.ASCII.GetString(peerType);
            if (type != "ROUTER" && type != "DEALER")
            {
                throw new TransportException(
                    "the socket at " + endpoint + " is a ZeroMQ '" + type + "'; a DEALER talks to a ROUTER " +
                    "(the sdbridge server) or a DEALER");
            }
        }

        private static int ReadCommandFrame(ZmtpSocket io, byte[] scratch, ref byte[] commandBuf, long deadline)
        {
            byte flags = io.ReadByte(deadline);
            Zmtp.CheckFlags(flags);
            if ((flags & Zmtp.FlagCommand) == 0)
                throw new TransportException("expected a ZMTP command frame during the handshake, got a message frame");
            long size;
            if ((flags & Zmtp.FlagLong) != 0)
            {
                io.ReadExact(scratch, 0, 8, deadline);
                ulong s = Zmtp.ReadUInt64BigEndian(scratch, 0);
                if (s > 65536) throw new TransportException("ZMTP handshake command of " + s + " bytes exceeds 65536");
                size = (long)s;
            }
            else
            {
                size = io.ReadByte(deadline);
            }
            if (commandBuf.Length < size) commandBuf = new byte[size];
            io.ReadExact(commandBuf, 0, (int)size, deadline);
            return (int)size;
        }
    }
}
