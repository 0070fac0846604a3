// What BridgeClient's I/O thread does with each message from the server during a session: Results go to the
// result slots (returning their credit), Credits to the credit window, Errors / Notices / Stats / Pongs become events,
// Bye, "session is gone" errors and a ServerShutdown notice (a draining replica) end the session (a
// TransportException the I/O loop turns into a reconnect).
// A malformed message is dropped, counted and reported; it never ends the session.
// Compiled and tested here with mono's mcs (C# 7.2).
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Diagnostics;
using StreamDiffusion.Bridge.Core.Protocol;
using StreamDiffusion.Bridge.Core.Transport;

namespace StreamDiffusion.Bridge.Core.Client
{
    /// <summary>Handles received messages (I/O thread only).</summary>
    internal sealed class InboundHandler
    {
        private readonly SessionState _s;
        private readonly FrameSlots _frames;
        private readonly CreditWindow _credits;
        private readonly ConnectionMonitor _monitor;
        private readonly BridgeCodec _codec;

        internal InboundHandler(SessionState session, FrameSlots frames, CreditWindow credits,
            ConnectionMonitor monitor, BridgeCodec codec)
        {
            _s = session;
            _frames = frames;
            _credits = credits;
            _monitor = monitor;
            _codec = codec;
        }

        /// <summary>Set when a ServerShutdown notice ended the session: the I/O loop says Bye before it reconnects.</summary>
        internal bool MoveRequested;

        /// <summary>Handles one received message. Throws TransportException when the server ended the session.</summary>
        internal void Handle(MultipartMessage message)
        {
            Message type;
            try
            {
                type = _codec.ReadType(message.Segment(0));
            }
            catch (ProtocolException e)
            {
                Malformed(e);
                return;
            }
            switch (type)
            {
                case Message.Result:
                    HandleResult(message);
                    return;
                case Message.Credit:
                    HandleCredit(message);
                    return;
                case Message.Pong:
                    HandlePong(message);
                    return;
                default:
                    HandleRare(message);
                    return;
            }
        }

        // The answer to a heartbeat Ping (traffic already noted by the caller): a Pong event with its times, so a game
        // can show the round trip while no frames flow.
        private void HandlePong(MultipartMessage message)
        {
            PongMessage pong;
            try
            {
                pong = (PongMessage)_codec.Decode(message.Segment(0));
            }
            catch (ProtocolException e)
            {
                Malformed(e);
                return;
            }
            ulong now = ClientClock.NowUs();
            string roundTrip = pong.ClientTimeUs > 0 && now >= pong.ClientTimeUs
                ? ((now - pong.ClientTimeUs) / 1000.0).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture) + " ms"
                : "unknown";
            _s.PushEvent(new ClientEvent
            {
                Kind = ClientEventKind.Pong,
                Pong = pong,
                Message = "pong " + pong.Nonce + ": round trip " + roundTrip,
            });
        }

        private void HandleCredit(MultipartMessage message)
        {
            uint granted;
            try
            {
                granted = _codec.DecodeCredit(message.Segment(0));
            }
            catch (ProtocolException e)
            {
                Malformed(e);
                return;
            }
            _credits.Return((int)granted, (int)granted);
            lock (_s.Lock) _s.Counters.CreditsReturned += granted;
        }

        private void HandleResult(MultipartMessage message)
        {
            ResultHeader h = default(ResultHeader);
            bool headerDecoded = false;
            try
            {
                _codec.DecodeResult(message.Segment(0), out h);
                headerDecoded = true;
                CheckResultParts(message, ref h);
            }
            catch (ProtocolException e)
            {
                // A readable header still returns its credit (the server spent the frame); an unreadable one
                // cannot be trusted, and a stalled pipeline is caught by ServerSilenceTimeoutMs instead.
                if (headerDecoded) _credits.Return(h.CreditsGranted > 0 ? (int)h.CreditsGranted : 1, 1);
                Malformed(e);
                return;
            }
            _credits.Return(h.CreditsGranted > 0 ? (int)h.CreditsGranted : 1, 1);
            ResultFrame back = _frames.Back;
            back.Header = h;
            back.TakePixels(message, 1);
            back.ReceivedTimeUs = ClientClock.NowUs();
            _monitor.ResultReceived(h.FrameId, h.SendTimeUs, back.ReceivedTimeUs);
            _frames.PublishResult();
        }

        private static void CheckResultParts(MultipartMessage message, ref ResultHeader h)
        {
            if (message.Count != 2)
            {
                throw new ProtocolException((int)ErrorCode.BadPartCount,
                    "Result came with " + message.Count + " parts; it needs 2 (header, pixels)");
            }
            long expected = BridgeCodec.ExpectedPixelBytes(h.Width, h.Height, h.Stride, h.PixelFormat);
            if (expected != message.Length(1))
            {
                throw new ProtocolException((int)ErrorCode.BadPixelSize,
                    "Result " + h.FrameId + " pixel part has " + message.Length(1) + " bytes but stride x " +
                    "height = " + expected);
            }
        }

        private void HandleRare(MultipartMessage message)
        {
            object decoded;
            try
            {
                decoded = _codec.Decode(message.Segment(0));
            }
            catch (ProtocolException e)
            {
                Malformed(e);
                return;
            }
            var error = decoded as ErrorMessage;
            if (error != null)
            {
                HandleError(error);
                return;
            }
            var notice = decoded as NoticeMessage;
            if (notice != null)
            {
                if (notice.Kind == NoticeKind.WantedPlanesChanged) _s.WantedPlanes = notice.WantedPlanes;
                _s.PushEvent(new ClientEvent { Kind = ClientEventKind.Notice, Notice = notice, Message = notice.Message });
                if (notice.Kind == NoticeKind.ServerShutdown)
                {
                    // A draining replica: say Bye (it frees the session at once) and move, as after a lost session.
                    MoveRequested = true;
                    throw new TransportException("the server is shutting down (" + notice.Message + "); reconnecting " +
                                                 "(behind a balancer, to another replica) and replaying the prompt, " +
                                                 "params and state");
                }
                return;
            }
            var stats = decoded as StatsMessage;
            if (stats != null)
            {
                lock (_s.Lock)
                {
                    _s.LastStats = stats;
                    _s.PushEventLocked(new ClientEvent { Kind = ClientEventKind.Stats, Stats = stats, Message = "stats " + stats.RequestId });
                }
                return;
            }
            if (decoded is ByeMessage)
            {
                throw new TransportException("the server ended the session: " + ((ByeMessage)decoded).Reason);
            }
            // Welcome/Hello/Frame/... from a server are unexpected here; ignore them.
        }

        private void HandleError(ErrorMessage error)
        {
            string text = error.Code + (error.Field.Length > 0 ? " (" + error.Field + ")" : "") + ": " + error.Message;
            if (ErrorCodeSets.IsUnknownConnection(error.Code)) // set_unknown_connection in bridge.fbs
            {
                lock (_s.Lock) _s.Counters.ServerErrors++;  // counted, as the Python and C++ clients count it
                // Expected behind a balancer (libzmq re-made the connection to another replica) or after a server
                // restart: reported as the session's loss (a Disconnected event with this text), not as an error.
                throw new TransportException("the server has no session for this connection (another replica " +
                                             "behind a balancer, or a restarted server): " + text);
            }
            lock (_s.Lock)
            {
                _s.Counters.ServerErrors++;
                _s.PushEventLocked(new ClientEvent
                {
                    Kind = ClientEventKind.ServerError,
                    Error = error,
                    Message = text,
                });
            }
            if (error.SessionClosed || ErrorCodeSets.IsSessionGone(error.Code)) // set_session_gone in bridge.fbs
            {
                throw new TransportException("the server closed the session: " + error.Code + ": " + error.Message);
            }
        }

        /// <summary>Counts and reports a message that could not be decoded.</summary>
        internal void Malformed(ProtocolException e)
        {
            lock (_s.Lock)
            {
                _s.Counters.MalformedMessages++;
                _s.PushEventLocked(new ClientEvent { Kind = ClientEventKind.Warning, Message = "dropped a malformed message: " + e.Message, Exception = e });
            }
        }
    }
}
