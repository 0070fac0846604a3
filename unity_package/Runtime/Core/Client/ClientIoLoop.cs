// BridgeClient's background I/O thread: the only owner of the transport and the codec. It opens a session
// (new socket, Hello/Welcome), then pumps: queued control messages first (in order), the pending frame while a
// credit is held, a Ping when nothing was sent for a heartbeat interval, and the messages that arrived. A lost
// connection or session (or a draining replica's ServerShutdown notice) ends the session; the loop retries after
// delays with backoff and jitter (ReconnectBackoff; a new Hello, and the session state replayed from SessionState),
// gives up after ReconnectWindowMs until Reconnect(), stops for good on a protocol-major mismatch, and stays Failed
// until Reconnect() after any other refusal that is not about capacity (ReconnectTries.Retryable).
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using System.Diagnostics;
using System.Threading;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Diagnostics;
using StreamDiffusion.Bridge.Core.Protocol;
using StreamDiffusion.Bridge.Core.Transport;

namespace StreamDiffusion.Bridge.Core.Client
{
    /// <summary>The I/O loop of one client. Run is the thread entry; RequestStop may be called from any thread.</summary>
    internal sealed class ClientIoLoop
    {
        private readonly BridgeClientOptions _options;
        private readonly SessionState _s;
        private readonly FrameSlots _frames;
        private readonly ConnectionMonitor _monitor;
        private readonly BridgeCodec _codec = new BridgeCodec();
        private ArraySegment<byte>[] _parts = new ArraySegment<byte>[0];  // a Frame with planes (protocol 1.3)
        private readonly MultipartMessage _message = new MultipartMessage();
        private readonly CreditWindow _credits = new CreditWindow();
        private readonly InboundHandler _inbound;
        private readonly ClientHandshake _handshake;
        private readonly ManualResetEvent _stopEvent = new ManualResetEvent(false);
        private volatile bool _stopping;

        private ITransport _transport;
        private long _lastSendTicks;
        private long _lastReceiveTicks;
        private long _allocBaseline;
        private bool _everConnected;
        private string _lastRefusal;
        private bool _reconnectRequested;  // Reconnect() ended the session: say Bye before the new Hello
        private readonly ReconnectTries _tries;
        private readonly ControlSender _controls;

        internal ClientIoLoop(BridgeClientOptions options, SessionState session, FrameSlots frames, ConnectionMonitor monitor)
        {
            _options = options;
            _s = session;
            _frames = frames;
            _monitor = monitor;
            _inbound = new InboundHandler(session, frames, _credits, monitor, _codec);
            _handshake = new ClientHandshake(options, _codec, _message, () => _stopping);
            _controls = new ControlSender(options, session, _codec);
            // Seeded per client (not by the clock: clients started in the same tick must still draw apart).
            _tries = new ReconnectTries(new ReconnectBackoff(options.ReconnectDelayMs, options.ReconnectMaxDelayMs,
                options.ReconnectJitter ?? new Random(Guid.NewGuid().GetHashCode())), options.ReconnectWindowMs);
        }

        /// <summary>True once RequestStop was called.</summary>
        internal bool Stopping
        {
            get { return _stopping; }
        }

        /// <summary>Asks the loop to say Bye, close the socket and return.</summary>
        internal void RequestStop()
        {
            _stopping = true;
            _stopEvent.Set();
            _s.Wake.Set();
        }

        // ================================================================================ loop

        /// <summary>Thread entry.</summary>
        internal void Run()
        {
            while (!_stopping)
            {
                if (_transport == null && !TryOpenSession()) return;
                if (_transport == null) continue;
                try
                {
                    Pump();
                }
                catch (Exception e) when (!(e is ThreadAbortException))
                {
                    // TransportException/ProtocolException end the session; any other exception is a bug, but the
                    // I/O thread must survive it: report it and start over with a new connection.
                    // A draining replica, or the server of a session the application left (Reconnect()), frees the
                    // session at once (as the Python client's reconnect() says Bye): a one-session replica has room.
                    if (_inbound.MoveRequested || _reconnectRequested) SayBye("reconnect");
                    _inbound.MoveRequested = false;
                    _reconnectRequested = false;
                    LoseSession(e is BridgeException ? e.Message : "internal error: " + e, e);
                    if (!_options.AutoReconnect)
                    {
                        Fail(e);
                        return;
                    }
                }
            }
            SayByeAndClose();
        }

        // One connection attempt. False when the loop must end (failed for good, or stopping after a failure); on a
        // retryable failure it waits the backoff's next delay (ReconnectBackoff) and returns true with no transport.
        // Past ReconnectWindowMs of failed tries, or after a refusal no other try can fix (ReconnectTries.Retryable:
        // not about capacity), the client is Failed until Reconnect() (or Dispose).
        private bool TryOpenSession()
        {
            try
            {
                OpenSession();
                _tries.Reset();
                return true;
            }
            catch (VersionMismatchException e)
            {
                Fail(e);
                return false;
            }
            catch (Exception e) when (!(e is ThreadAbortException))
            {
                // BridgeException (refused, timed out) or an unexpected runtime error.
                CloseTransport();
                if (_stopping)
                {
                    SayByeAndClose();
                    return false;
                }
                _monitor.AttemptFailed(e);
                if (!_options.AutoReconnect && _everConnected)
                {
                    Fail(e);
                    return false;
                }
                if (!ReconnectTries.Retryable(e)) return FailedUntilReconnect(e);  // a refusal not about capacity
                return WaitBeforeNextTry(e);
            }
        }

        // After a failed try: wait the next delay, or, past the window, stay Failed until Reconnect(). False: stopping.
        private bool WaitBeforeNextTry(Exception e)
        {
            int delay = _tries.NextDelayMs();
            if (delay < 0) return FailedUntilReconnect(_tries.GaveUp(_options.Endpoint, e));
            lock (_s.Lock)
            {
                _s.LastFailure = e;
                _s.SetStateLocked(_everConnected ? ClientState.Reconnecting : ClientState.Connecting);
            }
            _stopEvent.WaitOne(delay);
            return true;
        }

        // Failed with `e` (Connect throws it) and no more tries until Reconnect() or Dispose. False: stopping.
        private bool FailedUntilReconnect(Exception e)
        {
            Fail(e);
            var wakeUps = new WaitHandle[] { _stopEvent, _s.Wake };
            while (!_stopping && !_s.TakeReconnectRequest()) WaitHandle.WaitAny(wakeUps, 200);
            _tries.Reset();
            return !_stopping;
        }

        private void OpenSession()
        {
            lock (_s.Lock) _s.SetStateLocked(_everConnected ? ClientState.Reconnecting : ClientState.Connecting);
            _transport = TransportFactory.Create(_options.Transport, _options.TransportOptions);
            _transport.Connect(_options.Endpoint);
            WelcomeMessage welcome = _handshake.Run(_transport);
            _monitor.Connected(welcome.SessionId);
            _lastSendTicks = Stopwatch.GetTimestamp();
            _lastReceiveTicks = _lastSendTicks;
            _credits.Open((int)welcome.InitialCredits, _lastSendTicks);
            lock (_s.Lock)
            {
                bool reconnected = _everConnected;
                if (reconnected) _s.Counters.Reconnects++;
                _everConnected = true;
                _s.Welcome = welcome;
                _s.WantedPlanes = welcome.WantedPlanes;
                _s.LastFailure = null;
                _s.OnSessionOpenedLocked(reconnected);
                _s.PushEventLocked(new ClientEvent
                {
                    Kind = ClientEventKind.Connected,
                    Welcome = welcome,
                    Message = "session " + welcome.SessionId + " with " + _options.Endpoint + " (server " +
                              welcome.ServerVersion + ", protocol " + welcome.ProtocolMajor + "." + welcome.ProtocolMinor +
                              ", " + welcome.InitialCredits + " credits, latency " + welcome.LatencyFrames + " frames)",
                });
                string warning = ClientHandshake.WelcomeWarning(_options, welcome);  // e.g. another protocol minor
                if (warning != null) _s.PushEventLocked(new ClientEvent { Kind = ClientEventKind.Warning, Message = warning });
                _allocBaseline = Allocations.CurrentThread();
                _s.SetStateLocked(ClientState.Connected);
            }
        }

        private void Pump()
        {
            if (_s.TakeReconnectRequest())
            {
                _reconnectRequested = true;
                throw new TransportException("reconnect requested by the application");
            }
            SendControls();
            if (_s.Txt2img) RequestGeneratedFrames();
            else SendPendingFrame();
            long now = Stopwatch.GetTimestamp();
            SendHeartbeatIfDue(now);
            if (_credits.InFlight > 0 && _credits.SilentMs(now) > _options.ServerSilenceTimeoutMs)
            {
                throw new TransportException(
                    "no result or credit from " + _options.Endpoint + " for " + _options.ServerSilenceTimeoutMs +
                    " ms with " + _credits.InFlight + " frames in flight (ServerSilenceTimeoutMs): the server is gone or " +
                    "stuck; starting a new session");
            }
            ReceiveOrWait(now);
            PublishCounters();
        }

        // Hybrid wait: right after traffic the caller usually answers within microseconds (a result arrives, the
        // game submits the next frame), so for SpinAfterActivityUs the thread polls without blocking and yields the
        // CPU in between; after that it blocks on the socket for IdleWaitMs slices. Neither socket API used here
        // can also wait for "a frame was submitted" without allocating.
        private void ReceiveOrWait(long now)
        {
            bool busy;
            lock (_s.Lock) busy = _s.HasControlsLocked || (_frames.HasPendingLocked && _credits.Credits > 0);
            bool spinning = !busy && _options.SpinAfterActivityUs > 0 &&
                            ClientClock.TicksToUs(now - Math.Max(_lastReceiveTicks, _lastSendTicks)) < _options.SpinAfterActivityUs;
            int wait = busy || spinning ? 0 : _options.IdleWaitMs;
            if (_transport.TryReceive(_message, wait))
            {
                _lastReceiveTicks = Stopwatch.GetTimestamp();
                _inbound.Handle(_message);
                // Drain what is already there without waiting.
                while (_transport.TryReceive(_message, 0))
                {
                    _lastReceiveTicks = Stopwatch.GetTimestamp();
                    _inbound.Handle(_message);
                }
            }
            else if (spinning)
            {
                Thread.Yield();
            }
        }

        private void PublishCounters()
        {
            lock (_s.Lock)
            {
                _s.Counters.Credits = _credits.Credits;
                _s.Counters.InFlight = _credits.InFlight;
                long a = Allocations.CurrentThread();
                _s.Counters.IoThreadAllocatedBytes = a < 0 ? -1 : a - _allocBaseline;
            }
        }

        // ================================================================================ sending

        private void SendHeartbeatIfDue(long now)
        {
            WelcomeMessage welcome = _s.Welcome;  // written only by this thread
            int heartbeatMs = welcome != null && welcome.HeartbeatIntervalMs > 0 ? (int)welcome.HeartbeatIntervalMs : 1000;
            if (ClientClock.TicksToMs(now - _lastSendTicks) < heartbeatMs) return;
            _transport.Send(_codec.EncodePing(0, ClientClock.NowUs()));
            _lastSendTicks = now;
        }

        private void SendControls()
        {
            if (_controls.SendAll(_transport)) _lastSendTicks = Stopwatch.GetTimestamp();
        }

        private void SendPendingFrame()
        {
            if (_credits.Credits <= 0) return;
            PendingFrame f = _frames.TakePending();
            if (f == null) return;
            string refusal = ControlMessages.CheckAgainstWelcome(_s.Welcome, ref f.Header, f.Length);
            if (refusal != null)
            {
                RefuseLocally(refusal);
                return;
            }
            f.Header.SessionId = _s.Welcome.SessionId;
            f.Header.SendTimeUs = ClientClock.NowUs();
            _monitor.FrameSent(f.Header.FrameId, f.Header.SendTimeUs);
            ArraySegment<byte> header = _codec.EncodeFrame(ref f.Header);
            PlaneDescription[] planes = f.Header.Planes;
            if (planes == null || planes.Length == 0)
            {
                _transport.Send(header, new ArraySegment<byte>(f.Pixels, 0, f.Length));
            }
            else  // protocol 1.3: header, pixels, one part per plane
            {
                if (_parts.Length < planes.Length + 2) _parts = new ArraySegment<byte>[planes.Length + 2];
                _parts[0] = header;
                _parts[1] = new ArraySegment<byte>(f.Pixels, 0, f.Length);
                for (int i = 0; i < planes.Length; i++)
                {
                    _parts[i + 2] = new ArraySegment<byte>(f.PlaneBytes[i], 0, (int)planes[i].ByteCount);
                }
                _transport.Send(_parts, planes.Length + 2);
            }
            _lastSendTicks = Stopwatch.GetTimestamp();
            _credits.Spend(_lastSendTicks);
            lock (_s.Lock) _s.Counters.FramesSent++;
        }

        // Txt2img (protocol 1.2): every credit held asks for one generated frame (a client -> server Credit); each
        // Result returns it, so the server streams frames for the prompt as fast as they are shown. A frame submitted
        // meanwhile would be refused by the server: it is dropped here instead.
        private void RequestGeneratedFrames()
        {
            if (_frames.TakePending() != null)
            {
                RefuseLocally("a frame was submitted while txt2img is on (Params.Txt2img); the server generates the " +
                              "frames: set Txt2img = false to send frames again");
            }
            WelcomeMessage welcome = _s.Welcome;
            if (_credits.Credits <= 0 || welcome == null) return;
            if ((welcome.Capabilities & (uint)Capability.Txt2img) == 0)
            {
                RefuseLocally("txt2img is on but the server does not offer it (capability Txt2img, protocol 1.2); " +
                              "upgrade the server");
                return;
            }
            int granted = _credits.Credits;
            _transport.Send(_codec.EncodeCredit((uint)granted));
            _lastSendTicks = Stopwatch.GetTimestamp();
            for (int i = 0; i < granted; i++) _credits.Spend(_lastSendTicks);
        }

        // The server would refuse the frame: drop it here, keep the credit, say why (once per distinct reason).
        private void RefuseLocally(string refusal)
        {
            lock (_s.Lock)
            {
                _s.Counters.FramesRefusedLocally++;
                if (refusal != _lastRefusal)
                {
                    _lastRefusal = refusal;
                    _s.PushEventLocked(new ClientEvent { Kind = ClientEventKind.Warning, Message = refusal });
                }
            }
        }

        // ================================================================================ endings

        // Stopping: say Bye if we can, then close.
        private void SayByeAndClose()
        {
            SayBye("client closing");
            CloseTransport();
        }

        private void SayBye(string reason)
        {
            if (_transport == null || !_transport.IsConnected) return;
            try
            {
                _transport.Send(_codec.Encode(new ByeMessage { Reason = reason }));
            }
            catch (BridgeException)
            {
                // the server is gone already
            }
        }

        private void LoseSession(string reason, Exception e)
        {
            CloseTransport();
            _s.WantedPlanes = null;
            if (!_stopping) _monitor.SessionLost(reason);
            lock (_s.Lock)
            {
                _s.LastFailure = e;
                _s.PushEventLocked(new ClientEvent { Kind = ClientEventKind.Disconnected, Message = reason, Exception = e });
                if (!_stopping) _s.SetStateLocked(ClientState.Reconnecting);
            }
        }

        private void Fail(Exception e)
        {
            CloseTransport();
            _monitor.Failed(e);
            lock (_s.Lock)
            {
                _s.LastFailure = e;
                _s.PushEventLocked(new ClientEvent { Kind = ClientEventKind.Failed, Message = e.Message, Exception = e });
                _s.SetStateLocked(ClientState.Failed);
            }
        }

        private void CloseTransport()
        {
            if (_transport != null)
            {
                _transport.Dispose();
                _transport = null;
            }
            _credits.Clear();
        }
    }
}
