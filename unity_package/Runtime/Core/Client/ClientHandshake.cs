// The Hello/Welcome handshake of BridgeClient's I/O thread on a freshly connected transport: sends Hello, waits
// up to HandshakeTimeoutMs for Welcome (ignoring stale messages of an older session, and malformed ones, as the
// Python and C++ clients do), and turns a refusal into the exception that carries its wire ErrorCode
// (VersionMismatchException names both protocol versions and what to install). The I/O loop retries only what
// another try may fix (ReconnectTries.Retryable: no answer, or a capacity refusal).
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
        private int _ignored;            // malformed answers dropped during the current Run
        private string _lastIgnored;

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
            _ignored = 0;
            _lastIgnored = null;
            while (welcome == null)
            {
                long left = _options.HandshakeTimeoutMs - sw.ElapsedMilliseconds;
                if (left <= 0 || _stopping())
                {
                    throw new TransportException(
                        "no Welcome from " + _options.Endpoint + " within HandshakeTimeoutMs = " +
                        _options.HandshakeTimeoutMs + " ms after Hello" + (_ignored == 0 ? "" :
                        " (" + _ignored + " malformed answer(s) ignored, the last: " + _lastIgnored + ")"));
                }
                if (!transport.TryReceive(_message, (int)Math.Min(left, 50))) continue;
                welcome = ReadAnswer();
            }
            CheckMajor(welcome);
            return welcome;
        }

        // The Welcome, or null for anything else before it (stale messages of an old session, malformed messages).
        private WelcomeMessage ReadAnswer()
        {
            Message type;
            object decoded;
            try
            {
                type = _codec.ReadType(_message.Segment(0));
                if (type != Message.Error && type != Message.Welcome) return null;
                decoded = _codec.Decode(_message.Segment(0));
            }
            catch (ProtocolException e)
            {
                if (e.Code == (int)ErrorCode.WrongIdentifier)  // decided on the codec's code, never on its text
                {
                    throw new VersionMismatchException((int)ErrorCode.VersionMismatch, _options.ProtocolMajor, -1,
                        "the server at " + _options.Endpoint + " answered Hello with a message that is not " +
                        "protocol " + _options.ProtocolMajor + ".x (" + e.Message + "); install the " +
                        "com.streamdiffusion.bridge package whose major version matches the server's protocol");
                }
                _ignored++;
                _lastIgnored = e.Message;
                return null;
            }
            if (type == Message.Error) throw Refusal((ErrorMessage)decoded);
            return (WelcomeMessage)decoded;
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
            string retry = ErrorCodeSets.IsCapacityRefusal(error.Code)
                ? "; trying again (a capacity refusal: another try may reach a replica with room)"
                : "; not retried (only a capacity refusal such as SessionLimit is): fix what the server names, " +
                  "then call Reconnect()";
            return new ProtocolException((int)error.Code, "the server refused the session: " + error.Code +
                (string.IsNullOrEmpty(error.Field) ? "" : " (" + error.Field + ")") + ": " + error.Message + retry);
        }

        /// <summary>The Warning event a Welcome raises, or null: the server's Welcome.Warning, or, when the minors differ
        /// and the server said nothing, a text naming both versions (as the Python and C++ clients warn).</summary>
        internal static string WelcomeWarning(BridgeClientOptions options, WelcomeMessage welcome)
        {
            if (!string.IsNullOrEmpty(welcome.Warning)) return welcome.Warning;
            if (welcome.ProtocolMinor == options.ProtocolMinor) return null;
            return "the server at " + options.Endpoint + " speaks protocol " + welcome.ProtocolMajor + "." +
                   welcome.ProtocolMinor + ", this client " + options.ProtocolMajor + "." + options.ProtocolMinor +
                   " (same major: accepted): features of the newer minor are unavailable; update the older side to match";
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
