// BridgeClient: one engine session with the sdbridge server on its own background I/O thread.
//   - handshake (Hello/Welcome) with clear version errors (VersionMismatchException names both versions);
//   - credits: a frame is sent only with credit; otherwise the one pending frame is replaced (latest wins);
//   - results: triple-buffered, the newest result swapped to the caller (no copy, no allocation);
//   - prompt / params / game event / state / stats calls (names of the schema messages), queued for the
//     I/O thread, which alone owns the transport and the codec;
//   - reconnect with a new socket and a new Hello when the connection or the session is lost, restoring the
//     last prompt, params and state;
//   - steady state allocates nothing per frame (pooled pixel buffers, reused builder and message buffers).
// This class is the public API only; the work is split by responsibility:
//   SessionState (shared state behind one lock: state, counters, events, control queue, replayed settings),
//   FrameSlots (frame and result triple buffers), ControlMessages (message building and checks),
//   ClientIoLoop (the I/O thread), ClientHandshake (Hello/Welcome), InboundHandler (received messages),
//   CreditWindow (credits and frames in flight), ClientClock (timestamps).
// Compiled and tested here with mono's mcs (C# 7.2) against the real Python server.
using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Diagnostics;
using StreamDiffusion.Bridge.Core.Protocol;
using StreamDiffusion.Bridge.Core.Transport;

namespace StreamDiffusion.Bridge.Core.Client
{
    /// <summary>A client session. Public methods are thread-safe (call them from the game thread); the
    /// network work happens on the client's own background thread.</summary>
    public sealed class BridgeClient : IDisposable
    {
        private readonly BridgeClientOptions _options;
        private readonly ConnectionMonitor _monitor;
        private readonly SessionState _s;
        private readonly FrameSlots _frames;
        private readonly ClientIoLoop _io;
        private Thread _thread;

        public BridgeClient(BridgeClientOptions options)
        {
            if (options == null) throw new ArgumentNullException(nameof(options));
            if (string.IsNullOrEmpty(options.Endpoint))
                throw new ArgumentException("BridgeClientOptions.Endpoint is empty; set e.g. tcp://127.0.0.1:5555", nameof(options));
            _options = options.Clone();
            TransportOptions t = _options.TransportOptions;
            _monitor = new ConnectionMonitor(_options.Endpoint, _options.Transport,
                t != null && !string.IsNullOrEmpty(t.CurveServerKey), _options.Log);
            _s = new SessionState(_options);
            _frames = new FrameSlots(_s);
            _io = new ClientIoLoop(_options, _s, _frames, _monitor);
        }

        // ================================================================================ lifecycle

        /// <summary>Starts the I/O thread, which connects in the background (and keeps reconnecting).</summary>
        public void Start()
        {
            lock (_s.Lock)
            {
                if (_s.State == ClientState.Closed) throw new ObjectDisposedException(nameof(BridgeClient));
                if (_thread != null) return;
                _thread = new Thread(_io.Run) { IsBackground = true, Name = "StreamDiffusion.Bridge I/O" };
                _s.SetStateLocked(ClientState.Connecting);
            }
            _thread.Start();
        }

        /// <summary>Starts (if needed) and waits until the session is open. Throws the reason on failure
        /// (VersionMismatchException, ProtocolException, TransportException) or on timeout.</summary>
        public WelcomeMessage Connect(int timeoutMs)
        {
            Start();
            var sw = Stopwatch.StartNew();
            while (true)
            {
                lock (_s.Lock)
                {
                    if (_s.State == ClientState.Connected) return _s.Welcome;
                    if (_s.State == ClientState.Failed) throw _s.LastFailure;
                    if (_s.State == ClientState.Closed) throw new ObjectDisposedException(nameof(BridgeClient));
                    _s.StateChanged.Reset();
                }
                long left = timeoutMs - sw.ElapsedMilliseconds;
                if (left <= 0) throw ConnectTimeout(timeoutMs);
                _s.StateChanged.WaitOne((int)Math.Min(left, 100));
            }
        }

        private TransportException ConnectTimeout(int timeoutMs)
        {
            Exception last = LastFailure;
            return new TransportException(
                "no session with " + _options.Endpoint + " within " + timeoutMs + " ms" +
                (last != null ? " (last error: " + last.Message + ")" : "") +
                ": is `sdbridge serve --bind " + _options.Endpoint + "` running?", last);
        }

        /// <summary>Drops the connection (saying Bye, so the server frees the session at once) and opens a new one with
        /// a new Hello (a new server session).</summary>
        public void Reconnect()
        {
            lock (_s.Lock) _s.ReconnectRequested = true;
            _s.Wake.Set();
        }

        /// <summary>Stops the client: the I/O thread sends Bye if connected and closes the socket. Waits at most
        /// BridgeClientOptions.DisposeWaitMs (a few ms) so a game's main thread never blocks on the network; a
        /// thread inside a connect attempt finishes closing in the background (it is a background thread).</summary>
        public void Dispose()
        {
            Thread thread;
            lock (_s.Lock)
            {
                if (_s.State == ClientState.Closed) return;
                thread = _thread;
            }
            _io.RequestStop();
            if (thread != null) thread.Join(Math.Max(0, _options.DisposeWaitMs));
            lock (_s.Lock) _s.SetStateLocked(ClientState.Closed);
        }

        /// <summary>After Dispose: waits until the I/O thread has closed its socket. For tools and tests; a game
        /// never needs it. True when it has (or never started).</summary>
        public bool WaitForShutdown(int timeoutMs)
        {
            Thread thread;
            lock (_s.Lock) thread = _thread;
            return thread == null || thread.Join(Math.Max(0, timeoutMs));
        }

        /// <summary>State, results/s, round trip and the last error with its fix, as one consistent snapshot.
        /// Thread-safe and cheap (for an inspector or a status bar).</summary>
        public ConnectionStatus Status
        {
            get { return _monitor.Snapshot(State); }
        }

        // ================================================================================ state

        public ClientState State
        {
            get
            {
                lock (_s.Lock) return _s.State;
            }
        }

        /// <summary>The Welcome of the current session (null before the first one).</summary>
        public WelcomeMessage Welcome
        {
            get
            {
                lock (_s.Lock) return _s.Welcome;
            }
        }

        /// <summary>Why the client is Failed (or the last connect error while Reconnecting).</summary>
        public Exception LastFailure
        {
            get
            {
                lock (_s.Lock) return _s.LastFailure;
            }
        }

        public ClientCounters Counters
        {
            get
            {
                lock (_s.Lock) return _s.Counters;
            }
        }

        /// <summary>The latest Stats reply (null until one arrives).</summary>
        public StatsMessage LastStats
        {
            get
            {
                lock (_s.Lock) return _s.LastStats;
            }
        }

        public string Endpoint { get { return _options.Endpoint; } }

        /// <summary>Frame id of the last SubmitFrame.</summary>
        public ulong LastSubmittedFrameId
        {
            get { return _frames.LastSubmittedFrameId; }
        }

        /// <summary>Next report from the I/O thread (connected, errors, notices, stats...).</summary>
        public bool TryDequeueEvent(out ClientEvent e)
        {
            return _s.TryDequeueEvent(out e);
        }

        // ================================================================================ frames

        /// <summary>Submits a frame (copied into a pooled buffer; the caller may reuse its array at once).
        /// If a previous frame is still waiting for credit it is replaced (latest frame wins). Returns the
        /// frame id the result will echo.</summary>
        public ulong SubmitFrame(byte[] pixels, int offset, int length, FrameDescription description)
        {
            return SubmitFrame(pixels, offset, length, description, null);
        }

        /// <summary>Protocol 1.3: submits a frame with its planes (depth, normals, segmentation ids, motion
        /// vectors, control images), sent after the pixels to a server that granted Capability.Planes (else the
        /// frame is refused locally with an Error event). The planes are copied like the pixels.</summary>
        public ulong SubmitFrame(byte[] pixels, int offset, int length, FrameDescription description,
            PlaneData[] planes)
        {
            if (pixels == null) throw new ArgumentNullException(nameof(pixels));
            if (offset < 0 || length < 0 || offset + length > pixels.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(length),
                    "offset " + offset + " + length " + length + " exceeds the array of " + pixels.Length + " bytes");
            }
            ControlMessages.CheckPlanes(planes);
            FrameHeader header = ControlMessages.Describe(description, length);
            PendingFrame slot = _frames.BeginFill(length);
            bool copied = false;
            try
            {
                Buffer.BlockCopy(pixels, offset, slot.Pixels, 0, length);
                slot.CopyPlanes(planes);
                copied = true;
            }
            finally
            {
                if (!copied) _frames.AbandonFill();
            }
            return _frames.Publish(slot, ref header, length);
        }

        /// <summary>Submits a frame from native memory (e.g. a Unity NativeArray's pointer).</summary>
        public ulong SubmitFrame(IntPtr pixels, int length, FrameDescription description)
        {
            if (pixels == IntPtr.Zero) throw new ArgumentNullException(nameof(pixels));
            FrameHeader header = ControlMessages.Describe(description, length);
            PendingFrame slot = _frames.BeginFill(length);
            bool copied = false;
            try
            {
                Marshal.Copy(pixels, slot.Pixels, 0, length);
                slot.CopyPlanes(null);
                copied = true;
            }
            finally
            {
                if (!copied) _frames.AbandonFill();
            }
            return _frames.Publish(slot, ref header, length);
        }

        /// <summary>If a newer result arrived since the last call, swaps it into <paramref name="frame"/>
        /// (pass null the first time; keep passing the frame you got back) and returns true. No copy.</summary>
        public bool TryGetResult(ref ResultFrame frame)
        {
            return _frames.TryGetResult(ref frame);
        }

        /// <summary>Blocks until a result newer than the last TryGetResult is ready, or the timeout passes.
        /// For tools and benchmarks; a game polls TryGetResult each frame instead.</summary>
        public bool WaitForResult(int timeoutMs)
        {
            return _frames.WaitForResult(timeoutMs);
        }

        /// <summary>True while a submitted frame waits for credit (the next SubmitFrame would replace it).</summary>
        public bool HasPendingFrame
        {
            get { return _frames.HasPending; }
        }

        // ================================================================================ control

        /// <summary>Sets the prompt (Prompt message). Kept and re-sent after a reconnect.</summary>
        public void SetPrompt(string text, string negative = "")
        {
            SetPrompt(new PromptMessage { Text = text ?? "", Negative = negative ?? "" });
        }

        public void SetPrompt(PromptMessage prompt)
        {
            if (prompt == null) throw new ArgumentNullException(nameof(prompt));
            _s.QueuePrompt(prompt);
        }

        /// <summary>Changes runtime parameters (Params message); null fields stay unchanged. Takes every live
        /// parameter: ParamsMessage has one member per Params field of the schema (generated, as are their checks).
        /// A value outside its registry range (the generated StreamParams) throws ArgumentException naming the
        /// field, the value and the range; nothing is sent then.</summary>
        public void SetParams(ParamsMessage parameters)
        {
            if (parameters == null) throw new ArgumentNullException(nameof(parameters));
            ParamsCheck.Check(parameters);
            _s.QueueParams(parameters);
        }

        /// <summary>Protocol 1.4: a named style reference image for the server's IP-Adapter (RGBA8, BGRA8 or RGB8;
        /// exactly stride x height bytes from <paramref name="offset"/>, copied). Sending a name again replaces that
        /// image; weigh the styles with ParamsMessage.StyleBlend. Kept and re-sent after a reconnect (before the
        /// params). Needs Capability.StyleImages: throws InvalidOperationException when the current session lacks it
        /// (a Warning event when the Welcome comes later).</summary>
        public void SendStyleImage(string name, byte[] pixels, int offset, int width, int height, int stride,
            PixelFormat format, RowOrder rowOrder = RowOrder.TopDown)
        {
            if (pixels == null) throw new ArgumentNullException(nameof(pixels));
            int length = stride * height;
            if (offset < 0 || stride <= 0 || height <= 0 || offset + (long)length > pixels.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(pixels), "style image '" + name + "' needs stride x height = " +
                    stride + " x " + height + " bytes from offset " + offset + " of " + pixels.Length + " bytes");
            }
            StyleImageMessage header = ParamsCheck.StyleImage(name, length, width, height, stride, format, rowOrder);
            WelcomeMessage welcome = Welcome;
            if (welcome != null && State == ClientState.Connected && (welcome.Capabilities & (uint)Capability.StyleImages) == 0)
            {
                throw new InvalidOperationException(ControlMessages.NoStyleImages(_options.Endpoint, null));
            }
            var copy = new byte[length];
            Buffer.BlockCopy(pixels, offset, copy, 0, length);
            _s.QueueStyleImage(new StyleImageControl { Header = header, Pixels = copy });
        }

        /// <summary>Protocol 1.4: the plane kinds the server uses now (Welcome.WantedPlanes, then each
        /// WantedPlanesChanged notice): the planes worth capturing and sending. Empty while no session is open or
        /// when the server wants none. The Welcome also says the replica's capacity (SessionsOpen / SessionsMax).</summary>
        public PlaneKind[] WantedPlanes
        {
            get { return _s.WantedPlanes; }
        }

        /// <summary>Reports a game event (GameEvent message). Not replayed after a reconnect.</summary>
        public void SendGameEvent(string name, params KeyValueData[] payload)
        {
            if (string.IsNullOrEmpty(name)) throw new ArgumentException("event name is empty", nameof(name));
            var m = new GameEventMessage { Name = name, ClientTimeUs = NowUs() };
            if (payload != null) m.Payload.AddRange(payload);
            SendGameEvent(m);
        }

        public void SendGameEvent(GameEventMessage gameEvent)
        {
            if (gameEvent == null) throw new ArgumentNullException(nameof(gameEvent));
            _s.QueueGameEvent(gameEvent, _frames.LastSubmittedFrameId);
        }

        /// <summary>Sets state variables (State message, merged). Kept and re-sent after a reconnect.</summary>
        public void SetState(params KeyValueData[] entries)
        {
            if (entries == null || entries.Length == 0) throw new ArgumentException("no state entries given", nameof(entries));
            var m = new StateMessage { ClientTimeUs = NowUs() };
            m.Entries.AddRange(entries);
            SetState(m);
        }

        public void SetState(StateMessage state)
        {
            if (state == null) throw new ArgumentNullException(nameof(state));
            _s.QueueState(state);
        }

        /// <summary>Asks the server for a Stats reply (arrives as a Stats event and in LastStats).
        /// Returns the request id the reply echoes.</summary>
        public uint RequestStats()
        {
            return _s.QueueStatsRequest();
        }

        /// <summary>Client clock in microseconds since the Unix epoch (monotonic, no allocation).</summary>
        public static ulong NowUs()
        {
            return ClientClock.NowUs();
        }
    }
}
