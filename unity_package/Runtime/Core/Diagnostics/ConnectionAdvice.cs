// Turns a failed connection attempt into a sentence a person can act on: the endpoint, the cause and the fix
// (is `sdbridge serve` running, a firewall, the CurveZMQ keys, the package/server versions).
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using System.Net.Sockets;
using StreamDiffusion.Bridge.Core.Protocol;
using StreamDiffusion.Bridge.Core.Transport;

namespace StreamDiffusion.Bridge.Core.Diagnostics
{
    /// <summary>Explains connection failures with their likely fix.</summary>
    public static class ConnectionAdvice
    {
        /// <summary>"cannot reach tcp://h:p: &lt;cause&gt;. Fix: &lt;what to check&gt;".</summary>
        public static string Describe(string endpoint, TransportKind transport, bool usesCurve, Exception error)
        {
            string cause = error == null ? "unknown error" : error.Message.TrimEnd('.', ' ');
            bool sentence = cause.EndsWith("?") || cause.EndsWith("!");
            return "cannot reach the StreamDiffusion server at " + endpoint + ": " + cause + (sentence ? " " : ". ") +
                   "Fix: " + Fix(endpoint, transport, usesCurve, error);
        }

        private static string Fix(string endpoint, TransportKind transport, bool usesCurve, Exception error)
        {
            if (error is VersionMismatchException)
            {
                return "install the com.streamdiffusion.bridge package whose major version equals the server's " +
                       "protocol major (or a server speaking this package's protocol); retrying cannot help";
            }
            string serve = "start the server with `sdbridge serve --bind " + endpoint + "`";
            SocketError? socket = SocketErrorOf(error);
            if (socket == SocketError.ConnectionRefused)
            {
                return "nothing listens there: " + serve + " (or correct the endpoint in Project Settings > " +
                       "StreamDiffusion Bridge)";
            }
            if (socket == SocketError.HostNotFound || socket == SocketError.NoData)
            {
                return "the host name does not resolve: correct the endpoint's host";
            }
            if (transport == TransportKind.Native && usesCurve)
            {
                return "check the CurveZMQ keys: the server must list this client's public key in " +
                       "--authorized-keys, and CurveServerKey must be the server's public key; then check that " +
                       "`sdbridge serve` runs there and no firewall blocks the port";
            }
            return "check that `sdbridge serve` runs at " + endpoint + " and that no firewall blocks the port " +
                   "(a server bound beyond 127.0.0.1 also needs CurveZMQ keys and the native transport, or an " +
                   "SSH tunnel to its loopback port)";
        }

        private static SocketError? SocketErrorOf(Exception error)
        {
            for (Exception e = error; e != null; e = e.InnerException)
            {
                var s = e as SocketException;
                if (s != null) return s.SocketErrorCode;
            }
            return null;
        }
    }
}
