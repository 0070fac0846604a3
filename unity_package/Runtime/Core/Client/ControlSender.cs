// Sends BridgeClient's queued control messages in order (I/O thread only): Prompt, Params, GameEvent, State and
// StatsRequest as one part each, and (protocol 1.4) a StyleImage as its header and pixels, only to a server that granted
// Capability.StyleImages. A message that cannot be encoded, or a style image the server cannot take, is dropped with a
// Warning event saying why; the others leave the queue once the transport took them.
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Protocol;
using StreamDiffusion.Bridge.Core.Transport;

namespace StreamDiffusion.Bridge.Core.Client
{
    /// <summary>Drains the control queue onto a session's transport.</summary>
    internal sealed class ControlSender
    {
        private readonly BridgeClientOptions _options;
        private readonly SessionState _s;
        private readonly BridgeCodec _codec;

        internal ControlSender(BridgeClientOptions options, SessionState session, BridgeCodec codec)
        {
            _options = options;
            _s = session;
            _codec = codec;
        }

        /// <summary>Sends every queued control message on <paramref name="transport"/>; true when any went out.</summary>
        internal bool SendAll(ITransport transport)
        {
            bool sent = false;
            object m;
            while (_s.TryPeekControl(out m))
            {
                var style = m as StyleImageControl;
                if (style != null)
                {
                    sent |= SendStyleImage(transport, style);
                    _s.DropControl();
                    continue;
                }
                ArraySegment<byte> encoded;
                try
                {
                    encoded = ControlMessages.Encode(_codec, m);
                }
                catch (ProtocolException e)
                {
                    _s.DropControl();
                    _s.PushEvent(new ClientEvent { Kind = ClientEventKind.Warning, Message = "dropped a control message: " + e.Message, Exception = e });
                    continue;
                }
                transport.Send(encoded);
                sent = true;
                _s.DropControl();
            }
            return sent;
        }

        private bool SendStyleImage(ITransport transport, StyleImageControl style)
        {
            if ((_s.Welcome.Capabilities & (uint)Capability.StyleImages) == 0)
            {
                _s.PushEvent(new ClientEvent
                {
                    Kind = ClientEventKind.Warning,
                    Message = ControlMessages.NoStyleImages(_options.Endpoint, style.Header.Name),
                });
                return false;
            }
            transport.Send(_codec.Encode(style.Header), new ArraySegment<byte>(style.Pixels));
            return true;
        }
    }
}
