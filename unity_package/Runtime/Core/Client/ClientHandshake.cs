// The Hello/Welcome handshake of BridgeClient's I/O thread on a freshly connected transport: sends Hello, waits
// up to HandshakeTimeoutMs for Welcome (ignoring stale messages of an older session), and turns a refusal into
// the exception that names both protocol versions and what to install (VersionMismatchException stops
// reconnecting; any other failure is retried by the I/O loop).
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using System.Diagnostics;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Protocol;
using StreamDiffusion.Bridge.Core.Transport;

namespace StreamDiffusion.Bridge.Core.Client
{
    /// <summary>Performs the handshake (I/O thread only).</summary>
    internal sealed class ClientHandshake
    {
        private readonly BridgeClientOptions _options;
        private readonly BridgeCodec _codec;
        private readonly MultipartMessage _message;
        private readonly Func<bool> _stopping;

        internal ClientHandshake(BridgeClientOptions options, BridgeCodec codec, MultipartMessage message, Func<bool> stopping)
        {
            _options = options;
            _codec = codec;
            _message = message;
            _stopping = stopping;
        }

        /// <summary>Sends Hello on <paramref name="transport"/> and returns the server's Welcome.</summary>
        internal WelcomeMessage Run(ITransport transport)
        {
            transport.Send(_codec.Encode(ControlMessages.Hello(_options)));
            var sw = Stopwatch.StartNew();
            WelcomeMessage welcome = null;
            while (welcome == null)
            {
                long left = _options.HandshakeTimeoutMs - sw.ElapsedMilliseconds;
                if (left <= 0 || _stopping())
                {
                    throw new TransportException(
                        "no Welcome from " + _options.Endpoint + " within HandshakeTimeoutMs = " +
                        _options.HandshakeTimeoutMs + " ms after Hello");
                }
                if (!transport.TryReceive(_message, (int)Math.Min(left, 50))) continue;
                welcome = ReadAnswer();
            }
            CheckMajor(welcome);
            return welcome;
        }

        // The Welcome, or null for anything else before it (stale messages of an old session are ignored).
        private WelcomeMessage ReadAnswer()
        {
            Message type;
            try
            {
                type = _codec.ReadType(_message.Segment(0));
            }
            catch (ProtocolException e)
            {
                if (e.Code == (int)ErrorCode.WrongIdentifier)
                {
                    throw new VersionMismatchException((int)ErrorCode.VersionMismatch, _options.ProtocolMajor, -1,
                        "the server at " + _options.Endpoint + " answered Hello with a message that is not " +
                        "protocol " + _options.ProtocolMajor + ".x (" + e.Message + "); install the " +
                        "com.streamdiffusion.bridge package whose major version matches the server's protocol");
                }
                throw;
            }
            if (type == Message.Error) throw Refusal((ErrorMessage)_codec.Decode(_message.Segment(0)));
            if (type == Message.Welcome) return (WelcomeMessage)_codec.Decode(_message.Segment(0));
            return null;
        }

        private Exception Refusal(ErrorMessage error)
        {
            if (error.Code == ErrorCode.VersionMismatch)
            {
                return new VersionMismatchException((int)error.Code, _options.ProtocolMajor, -1,
                    "the server at " + _options.Endpoint + " refused this client's protocol " +
                    _options.ProtocolMajor + "." + _options.ProtocolMinor + " (package " +
                    "com.streamdiffusion.bridge " + BridgeClientOptions.PackageVersion + "): " + error.Message);
            }
            return new ProtocolException((int)error.Code,
                "the server refused the session: " + error.Code + ": " + error.Message);
        }

        private void CheckMajor(WelcomeMessage welcome)
        {
            if (welcome.ProtocolMajor == _options.ProtocolMajor) return;
            throw new VersionMismatchException((int)ErrorCode.VersionMismatch, _options.ProtocolMajor,
                welcome.ProtocolMajor,
                "the server at " + _options.Endpoint + " speaks protocol " + welcome.ProtocolMajor + "." +
                welcome.ProtocolMinor + ", this client speaks " + _options.ProtocolMajor + "." +
                _options.ProtocolMinor + ": install the com.streamdiffusion.bridge package with major version " +
                welcome.ProtocolMajor + " or a server speaking protocol " + _options.ProtocolMajor);
        }
    }
}
