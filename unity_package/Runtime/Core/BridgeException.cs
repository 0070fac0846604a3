// The one exception hierarchy of the C# core (mirrors sdbridge.errors in the Python server).
// Compiled and tested here with mono's mcs (C# 7.2).
using System;

namespace StreamDiffusion.Bridge.Core
{
    /// <summary>Base class of every error the bridge core raises on purpose.</summary>
    public class BridgeException : Exception
    {
        public BridgeException(string message) : base(message) { }
        public BridgeException(string message, Exception inner) : base(message, inner) { }
    }

    /// <summary>A connection failed, timed out, was refused or was closed by the peer.</summary>
    public class TransportException : BridgeException
    {
        public TransportException(string message) : base(message) { }
        public TransportException(string message, Exception inner) : base(message, inner) { }
    }

    /// <summary>A wire message is malformed or violates the protocol. Carries the protocol error code
    /// (the numeric value of the schema's ErrorCode enum; 0 when the error was detected locally).</summary>
    public class ProtocolException : BridgeException
    {
        public int Code { get; }

        public ProtocolException(int code, string message) : base(message) { Code = code; }
    }

    /// <summary>The server speaks an incompatible protocol major version. The message names both
    /// versions and what to install.</summary>
    public sealed class VersionMismatchException : ProtocolException
    {
        public int ClientMajor { get; }
        public int ServerMajor { get; }

        public VersionMismatchException(int code, int clientMajor, int serverMajor, string message)
            : base(code, message)
        {
            ClientMajor = clientMajor;
            ServerMajor = serverMajor;
        }
    }
}
