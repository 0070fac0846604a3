// BridgeClient: one engine session with the sdbridge server on its own background I/O thread.
//   - handshake (Hello/Welcome) with clear version errors (VersionMismatchException names both versions);
//   - credits: a frame is sent only with credit; otherwise the one pending frame is replaced (latest wins);
//   - results: triple-buffered, the newest result swapped to the caller (no copy, no allocation);
//   - prompt / params / game event / state / stats calls (names of the schema messages), queued for the
//     I/O thread, which alone owns the transport and the codec;
//   - reconnect with a new socket and a new Hello when the connection or the session is lost, restoring the
//     last prompt, params and state;
//   - steady state allocates nothing per frame (pooled pixel buffers, reused builder and message buffers).
// Compiled and tested here with mono's mcs (C# 7.2) against the real Python server.
using System;
using System.Collections.Generic;
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
        private const int MaxEvents = 256;
        private static readonly long EpochTicks = new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;

        private readonly BridgeClientOptions _options;
        private readonly ConnectionMonitor _monitor;
        private readonly object _lock = new object();
        private readonly ManualResetEvent _stateChanged = new ManualResetEvent(false);
        private readonly AutoResetEvent _wake = new AutoResetEvent(false);
        private readonly ManualResetEvent _stopEvent = new ManualResetEvent(false);
        private Thread _thread;
        private volatile bool _stopping;

        // --- frame slots (triple buffer): the caller fills _fill, swaps it into _pending; the I/O thread swaps
        // _pending into _sending. Guarded by _lock for the swaps only.
        private PendingFrame _fill = new PendingFrame();
        private PendingFrame _pending = new PendingFrame();
        private PendingFrame _sending = new PendingFrame();
        private bool _hasPending;
        private ulong _nextFrameId = 1;
        private ulong _lastSubmittedFrameId;

        // --- results (triple buffer): I/O writes _back, publishes into _ready; the caller swaps _ready out.
        private ResultFrame _back = new ResultFrame();
        private ResultFrame _ready = new ResultFrame();
        private bool _hasReady;

        // --- control messages and events
        private readonly Queue<object> _controls = new Queue<object>();
        private readonly Queue<ClientEvent> _events = new Queue<ClientEvent>();
        private PromptMessage _lastPrompt;
        private ParamsMessage _mergedParams;
        private readonly Dictionary<string, KeyValueData> _state = new Dictionary<string, KeyValueData>();
        private uint _nextRequestId = 1;

        // --- state visible to callers (written under _lock)
        private ClientState _state_ = ClientState.Idle;
        private WelcomeMessage _welcome;
        private Exception _lastFailure;
        private ClientCounters _counters;
        private StatsMessage _lastStats;

        // --- I/O thread only
        private ITransport _transport;
        private readonly BridgeCodec _codec = new BridgeCodec();
        private readonly MultipartMessage _message = new MultipartMessage();
        private int _credits;
        private int _inFlight;
        private long _lastSendTicks;
        private long _lastReceiveTicks;
        private long _lastProgressTicks;   // last Result or Credit
        private long _lastFrameSentTicks;
        private long _allocBaseline;
        private bool _everConnected;

        public BridgeClient(BridgeClientOptions options)
        {
            if (options == null) throw new ArgumentNullException(nameof(options));
            if (string.IsNullOrEmpty(options.Endpoint))
                throw new ArgumentException("BridgeClientOptions.Endpoint is empty; set e.g. tcp://127.0.0.1:5555", nameof(options));
            _options = options.Clone();
            TransportOptions t = _options.TransportOptions;
            _monitor = new ConnectionMonitor(_options.Endpoint, _options.Transport,
                t != null && !string.IsNullOrEmpty(t.CurveServerKey), _options.Log);
        }

        // ================================================================================ lifecycle

        /// <summary>Starts the I/O thread, which connects in the background (and keeps reconnecting).</summary>
        public void Start()
        {
            lock (_lock)
            {
                if (_state_ == ClientState.Closed) throw new ObjectDisposedException(nameof(BridgeClient));
                if (_thread != null) return;
                _thread = new Thread(IoLoop) { IsBackground = true, Name = "StreamDiffusion.Bridge I/O" };
                SetState(ClientState.Connecting);
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
                lock (_lock)
                {
                    if (_state_ == ClientState.Connected) return _welcome;
                    if (_state_ == ClientState.Failed) throw _lastFailure;
                    if (_state_ == ClientState.Closed) throw new ObjectDisposedException(nameof(BridgeClient));
                    _stateChanged.Reset();
                }
                long left = timeoutMs - sw.ElapsedMilliseconds;
                if (left <= 0)
                {
                    Exception last;
                    lock (_lock) last = _lastFailure;
                    throw new TransportException(
                        "no session with " + _options.Endpoint + " within " + timeoutMs + " ms" +
                        (last != null ? " (last error: " + last.Message + ")" : "") +
                        ": is `sdbridge serve --bind " + _options.Endpoint + "` running?", last);
                }
                _stateChanged.WaitOne((int)Math.Min(left, 100));
            }
        }

        /// <summary>Drops the connection and opens a new one with a new Hello (a new server session).</summary>
        public void Reconnect()
        {
            lock (_lock) _reconnectRequested = true;
            _wake.Set();
        }

        private bool _reconnectRequested;

        /// <summary>Stops the client: the I/O thread sends Bye if connected and closes the socket. Waits at most
        /// BridgeClientOptions.DisposeWaitMs (a few ms) so a game's main thread never blocks on the network; a
        /// thread inside a connect attempt finishes closing in the background (it is a background thread).</summary>
        public void Dispose()
        {
            Thread thread;
            lock (_lock)
            {
                if (_state_ == ClientState.Closed) return;
                _stopping = true;
                thread = _thread;
            }
            _stopEvent.Set();
            _wake.Set();
            if (thread != null) thread.Join(Math.Max(0, _options.DisposeWaitMs));
            lock (_lock) SetState(ClientState.Closed);
        }

        /// <summary>After Dispose: waits until the I/O thread has closed its socket. For tools and tests; a game
        /// never needs it. True when it has (or never started).</summary>
        public bool WaitForShutdown(int timeoutMs)
        {
            Thread thread;
            lock (_lock) thread = _thread;
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
                lock (_lock) return _state_;
            }
        }

        /// <summary>The Welcome of the current session (null before the first one).</summary>
        public WelcomeMessage Welcome
        {
            get
            {
                lock (_lock) return _welcome;
            }
        }

        /// <summary>Why the client is Failed (or the last connect error while Reconnecting).</summary>
        public Exception LastFailure
        {
            get
            {
                lock (_lock) return _lastFailure;
            }
        }

        public ClientCounters Counters
        {
            get
            {
                lock (_lock) return _counters;
            }
        }

        /// <summary>The latest Stats reply (null until one arrives).</summary>
        public StatsMessage LastStats
        {
            get
            {
                lock (_lock) return _lastStats;
            }
        }

        public string Endpoint { get { return _options.Endpoint; } }

        /// <summary>Frame id of the last SubmitFrame.</summary>
        public ulong LastSubmittedFrameId
        {
            get
            {
                lock (_lock) return _lastSubmittedFrameId;
            }
        }

        /// <summary>Next report from the I/O thread (connected, errors, notices, stats...).</summary>
        public bool TryDequeueEvent(out ClientEvent e)
        {
            lock (_lock)
            {
                if (_events.Count == 0)
                {
                    e = null;
                    return false;
                }
                e = _events.Dequeue();
                return true;
            }
        }

        // ================================================================================ frames

        /// <summary>Submits a frame (copied into a pooled buffer; the caller may reuse its array at once).
        /// If a previous frame is still waiting for credit it is replaced (latest frame wins). Returns the
        /// frame id the result will echo.</summary>
        public ulong SubmitFrame(byte[] pixels, int offset, int length, FrameDescription description)
        {
            if (pixels == null) throw new ArgumentNullException(nameof(pixels));
            if (offset < 0 || length < 0 || offset + length > pixels.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(length),
                    "offset " + offset + " + length " + length + " exceeds the array of " + pixels.Length + " bytes");
            }
            FrameHeader header = Describe(description, length);
            PendingFrame slot = _fillSlot();
            slot.Ensure(length);
            Buffer.BlockCopy(pixels, offset, slot.Pixels, 0, length);
            return Publish(slot, ref header, length);
        }

        /// <summary>Submits a frame from native memory (e.g. a Unity NativeArray's pointer).</summary>
        public ulong SubmitFrame(IntPtr pixels, int length, FrameDescription description)
        {
            if (pixels == IntPtr.Zero) throw new ArgumentNullException(nameof(pixels));
            FrameHeader header = Describe(description, length);
            PendingFrame slot = _fillSlot();
            slot.Ensure(length);
            Marshal.Copy(pixels, slot.Pixels, 0, length);
            return Publish(slot, ref header, length);
        }

        /// <summary>If a newer result arrived since the last call, swaps it into <paramref name="frame"/>
        /// (pass null the first time; keep passing the frame you got back) and returns true. No copy.</summary>
        public bool TryGetResult(ref ResultFrame frame)
        {
            lock (_lock)
            {
                if (!_hasReady) return false;
                ResultFrame taken = _ready;
                _ready = frame ?? new ResultFrame();
                frame = taken;
                _hasReady = false;
                return true;
            }
        }

        /// <summary>Blocks until a result newer than the last TryGetResult is ready, or the timeout passes.
        /// For tools and benchmarks; a game polls TryGetResult each frame instead.</summary>
        public bool WaitForResult(int timeoutMs)
        {
            long deadline = Stopwatch.GetTimestamp() + timeoutMs * Stopwatch.Frequency / 1000;
            lock (_lock)
            {
                while (!_hasReady)
                {
                    long left = (deadline - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency;
                    if (left <= 0) return false;
                    Monitor.Wait(_lock, (int)left);
                }
                return true;
            }
        }

        /// <summary>True while a submitted frame waits for credit (the next SubmitFrame would replace it).</summary>
        public bool HasPendingFrame
        {
            get
            {
                lock (_lock) return _hasPending;
            }
        }

        private readonly object _fillLock = new object();

        // Only one caller thread fills at a time; the fill slot is private to that caller until Publish.
        private PendingFrame _fillSlot()
        {
            Monitor.Enter(_fillLock);
            return _fill;
        }

        private ulong Publish(PendingFrame slot, ref FrameHeader header, int length)
        {
            try
            {
                lock (_lock)
                {
                    header.FrameId = _nextFrameId++;
                    slot.Header = header;
                    slot.Length = length;
                    _fill = _pending;
                    _pending = slot;
                    if (_hasPending) _counters.FramesReplaced++;
                    _hasPending = true;
                    _counters.FramesSubmitted++;
                    _lastSubmittedFrameId = header.FrameId;
                    return header.FrameId;
                }
            }
            finally
            {
                Monitor.Exit(_fillLock);
                _wake.Set();
            }
        }

        private static FrameHeader Describe(FrameDescription d, int length)
        {
            if (d.Width <= 0 || d.Height <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(d),
                    "frame is " + d.Width + "x" + d.Height + "; width and height must be at least 1");
            }
            int stride = d.Stride > 0 ? d.Stride : d.Width * PixelFormats.BytesPerPixel(d.PixelFormat);
            long expected;
            try
            {
                expected = BridgeCodec.ExpectedPixelBytes((uint)d.Width, (uint)d.Height, (uint)stride, d.PixelFormat);
            }
            catch (ProtocolException e)
            {
                throw new ArgumentException(e.Message, nameof(d), e);
            }
            if (expected != length)
            {
                throw new ArgumentException(
                    "pixel length is " + length + " bytes but stride x height = " + stride + " x " + d.Height + " = " +
                    expected + "; pass exactly one image", nameof(length));
            }
            if (d.RowOrder == RowOrder.Unknown || d.ColorSpace == ColorSpace.Unknown)
            {
                throw new ArgumentException(
                    "FrameDescription.RowOrder and ColorSpace must be set (Unity CPU images are BottomUp; " +
                    "RGBA32 textures created with linear:false are SRGB)", nameof(d));
            }
            return new FrameHeader
            {
                StreamId = d.StreamId,
                Width = (uint)d.Width,
                Height = (uint)d.Height,
                Stride = (uint)stride,
                PixelFormat = d.PixelFormat,
                RowOrder = d.RowOrder,
                ColorSpace = d.ColorSpace,
                AlphaMode = d.AlphaMode == AlphaMode.Unknown ? AlphaMode.Ignore : d.AlphaMode,
                CaptureTimeUs = d.CaptureTimeUs != 0 ? d.CaptureTimeUs : NowUs(),
            };
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
            lock (_lock)
            {
                _lastPrompt = prompt;
                EnqueueControl(prompt);
            }
        }

        /// <summary>Changes runtime parameters (Params message); null fields stay unchanged.</summary>
        public void SetParams(ParamsMessage parameters)
        {
            if (parameters == null) throw new ArgumentNullException(nameof(parameters));
            if (parameters.SetMask == 0)
                throw new ArgumentException("ParamsMessage sets no field; set at least one (e.g. GuidanceScale)", nameof(parameters));
            lock (_lock)
            {
                _mergedParams = Merge(_mergedParams, parameters);
                EnqueueControl(parameters);
            }
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
            lock (_lock)
            {
                if (gameEvent.FrameId == 0) gameEvent.FrameId = _lastSubmittedFrameId;
                if (gameEvent.ClientTimeUs == 0) gameEvent.ClientTimeUs = NowUs();
                EnqueueControl(gameEvent);
            }
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
            lock (_lock)
            {
                if (state.ReplaceAll) _state.Clear();
                foreach (KeyValueData kv in state.Entries) _state[kv.Key] = kv;
                if (state.ClientTimeUs == 0) state.ClientTimeUs = NowUs();
                EnqueueControl(state);
            }
        }

        /// <summary>Asks the server for a Stats reply (arrives as a Stats event and in LastStats).
        /// Returns the request id the reply echoes.</summary>
        public uint RequestStats()
        {
            lock (_lock)
            {
                uint id = _nextRequestId++;
                EnqueueControl(new StatsRequestMessage { RequestId = id });
                return id;
            }
        }

        // Called under _lock. Gameplay code must never get an exception because the server is down, so a full
        // queue drops its oldest message (counted and reported once per outage); prompt, params and state are
        // re-sent from the remembered values on reconnect anyway.
        private void EnqueueControl(object message)
        {
            if (_controls.Count >= Math.Max(1, _options.MaxQueuedControlMessages))
            {
                _controls.Dequeue();
                _counters.ControlMessagesDropped++;
                if (!_controlOverflowReported)
                {
                    _controlOverflowReported = true;
                    PushEvent(new ClientEvent
                    {
                        Kind = ClientEventKind.Warning,
                        Message = "more than MaxQueuedControlMessages = " + _options.MaxQueuedControlMessages +
                                  " control messages queued while the client is " + _state_ + "; the oldest are " +
                                  "dropped (Counters.ControlMessagesDropped). Raise the limit or send fewer events " +
                                  "while disconnected",
                    });
                }
            }
            _controls.Enqueue(message);
            _wake.Set();
        }

        private bool _controlOverflowReported;

        private static ParamsMessage Merge(ParamsMessage a, ParamsMessage b)
        {
            var m = new ParamsMessage { StreamId = b.StreamId };
            if (a != null)
            {
                m.GuidanceScale = a.GuidanceScale;
                m.Delta = a.Delta;
                m.TIndexList = a.TIndexList;
                m.Seed = a.Seed;
                m.SimilarityFilterEnabled = a.SimilarityFilterEnabled;
                m.SimilarityThreshold = a.SimilarityThreshold;
                m.SimilarityMaxSkip = a.SimilarityMaxSkip;
                m.SeedBlend = a.SeedBlend;
            }
            if (b.GuidanceScale.HasValue) m.GuidanceScale = b.GuidanceScale;
            if (b.Delta.HasValue) m.Delta = b.Delta;
            if (b.TIndexList != null) m.TIndexList = b.TIndexList;
            if (b.Seed.HasValue) m.Seed = b.Seed;
            if (b.SimilarityFilterEnabled.HasValue) m.SimilarityFilterEnabled = b.SimilarityFilterEnabled;
            if (b.SimilarityThreshold.HasValue) m.SimilarityThreshold = b.SimilarityThreshold;
            if (b.SimilarityMaxSkip.HasValue) m.SimilarityMaxSkip = b.SimilarityMaxSkip;
            if (b.SeedBlend != null) m.SeedBlend = b.SeedBlend;
            return m;
        }

        // ================================================================================ I/O thread

        private void IoLoop()
        {
            int delay = _options.ReconnectDelayMs;
            while (!_stopping)
            {
                if (_transport == null)
                {
                    try
                    {
                        OpenSession();
                        delay = _options.ReconnectDelayMs;
                    }
                    catch (VersionMismatchException e)
                    {
                        Fail(e);
                        return;
                    }
                    catch (Exception e) when (!(e is ThreadAbortException))
                    {
                        // BridgeException (refused, timed out) or an unexpected runtime error: retry later.
                        CloseTransport();
                        if (_stopping) break;
                        _monitor.AttemptFailed(e);
                        if (!_options.AutoReconnect && _everConnected)
                        {
                            Fail(e);
                            return;
                        }
                        lock (_lock)
                        {
                            _lastFailure = e;
                            SetState(_everConnected ? ClientState.Reconnecting : ClientState.Connecting);
                        }
                        _stopEvent.WaitOne(delay);
                        delay = Math.Min(delay * 2, _options.ReconnectMaxDelayMs);
                        continue;
                    }
                }
                try
                {
                    Pump();
                }
                catch (Exception e) when (!(e is ThreadAbortException))
                {
                    // TransportException/ProtocolException end the session; any other exception is a bug, but the
                    // I/O thread must survive it: report it and start over with a new connection.
                    LoseSession(e is BridgeException ? e.Message : "internal error: " + e, e);
                    if (!_options.AutoReconnect)
                    {
                        Fail(e);
                        return;
                    }
                }
            }
            // Stopping: say Bye if we can, then close.
            if (_transport != null && _transport.IsConnected)
            {
                try
                {
                    _transport.Send(_codec.Encode(new ByeMessage { Reason = "client closing" }));
                }
                catch (BridgeException)
                {
                    // the server is gone already
                }
            }
            CloseTransport();
        }

        private void Pump()
        {
            bool reconnect;
            lock (_lock)
            {
                reconnect = _reconnectRequested;
                _reconnectRequested = false;
            }
            if (reconnect) throw new TransportException("reconnect requested by the application");

            SendControls();
            SendPendingFrame();
            long now = Stopwatch.GetTimestamp();
            WelcomeMessage welcome = _welcome;
            int heartbeatMs = welcome != null && welcome.HeartbeatIntervalMs > 0 ? (int)welcome.HeartbeatIntervalMs : 1000;
            if (TicksToMs(now - _lastSendTicks) >= heartbeatMs)
            {
                _transport.Send(_codec.EncodePing(0, NowUs()));
                _lastSendTicks = now;
            }
            if (_inFlight > 0 && TicksToMs(now - Math.Max(_lastProgressTicks, _lastFrameSentTicks)) > _options.ServerSilenceTimeoutMs)
            {
                throw new TransportException(
                    "no result or credit from " + _options.Endpoint + " for " + _options.ServerSilenceTimeoutMs +
                    " ms with " + _inFlight + " frames in flight (ServerSilenceTimeoutMs): the server is gone or " +
                    "stuck; starting a new session");
            }
            bool busy;
            lock (_lock) busy = _controls.Count > 0 || (_hasPending && _credits > 0);
            // Hybrid wait: right after traffic the caller usually answers within microseconds (a result arrives,
            // the game submits the next frame), so for SpinAfterActivityUs the thread polls without blocking
            // and yields the CPU in between; after that it blocks on the socket for IdleWaitMs slices. Neither
            // socket API used here can also wait for "a frame was submitted" without allocating.
            bool spinning = !busy && _options.SpinAfterActivityUs > 0 &&
                            TicksToUs(now - Math.Max(_lastReceiveTicks, _lastSendTicks)) < _options.SpinAfterActivityUs;
            int wait = busy || spinning ? 0 : _options.IdleWaitMs;
            if (_transport.TryReceive(_message, wait))
            {
                _lastReceiveTicks = Stopwatch.GetTimestamp();
                Handle();
                // Drain what is already there without waiting.
                while (_transport.TryReceive(_message, 0))
                {
                    _lastReceiveTicks = Stopwatch.GetTimestamp();
                    Handle();
                }
            }
            else if (spinning)
            {
                Thread.Yield();
            }
            lock (_lock)
            {
                _counters.Credits = _credits;
                _counters.InFlight = _inFlight;
                long a = Allocations.CurrentThread();
                _counters.IoThreadAllocatedBytes = a < 0 ? -1 : a - _allocBaseline;
            }
        }

        private void OpenSession()
        {
            lock (_lock) SetState(_everConnected ? ClientState.Reconnecting : ClientState.Connecting);
            _transport = TransportFactory.Create(_options.Transport, _options.TransportOptions);
            _transport.Connect(_options.Endpoint);
            var hello = new HelloMessage
            {
                ProtocolMajor = _options.ProtocolMajor,
                ProtocolMinor = _options.ProtocolMinor,
                ClientName = _options.ClientName,
                ClientVersion = _options.ClientVersion,
                EngineName = _options.EngineName,
                EngineVersion = _options.EngineVersion,
                Capabilities = _options.Capabilities,
                PixelFormats = _options.PixelFormats,
            };
            _transport.Send(_codec.Encode(hello));
            var sw = Stopwatch.StartNew();
            WelcomeMessage welcome = null;
            while (welcome == null)
            {
                long left = _options.HandshakeTimeoutMs - sw.ElapsedMilliseconds;
                if (left <= 0 || _stopping)
                {
                    throw new TransportException(
                        "no Welcome from " + _options.Endpoint + " within HandshakeTimeoutMs = " +
                        _options.HandshakeTimeoutMs + " ms after Hello");
                }
                if (!_transport.TryReceive(_message, (int)Math.Min(left, 50))) continue;
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
                if (type == Message.Error)
                {
                    var error = (ErrorMessage)_codec.Decode(_message.Segment(0));
                    if (error.Code == ErrorCode.VersionMismatch)
                    {
                        throw new VersionMismatchException((int)error.Code, _options.ProtocolMajor, -1,
                            "the server at " + _options.Endpoint + " refused this client's protocol " +
                            _options.ProtocolMajor + "." + _options.ProtocolMinor + " (package " +
                            "com.streamdiffusion.bridge " + BridgeClientOptions.PackageVersion + "): " + error.Message);
                    }
                    throw new ProtocolException((int)error.Code,
                        "the server refused the session: " + error.Code + ": " + error.Message);
                }
                if (type == Message.Welcome) welcome = (WelcomeMessage)_codec.Decode(_message.Segment(0));
                // Anything else before Welcome (stale messages of an old session) is ignored.
            }
            if (welcome.ProtocolMajor != _options.ProtocolMajor)
            {
                throw new VersionMismatchException((int)ErrorCode.VersionMismatch, _options.ProtocolMajor,
                    welcome.ProtocolMajor,
                    "the server at " + _options.Endpoint + " speaks protocol " + welcome.ProtocolMajor + "." +
                    welcome.ProtocolMinor + ", this client speaks " + _options.ProtocolMajor + "." +
                    _options.ProtocolMinor + ": install the com.streamdiffusion.bridge package with major version " +
                    welcome.ProtocolMajor + " or a server speaking protocol " + _options.ProtocolMajor);
            }
            _credits = (int)welcome.InitialCredits;
            _inFlight = 0;
            _monitor.Connected(welcome.SessionId);
            _lastSendTicks = Stopwatch.GetTimestamp();
            _lastReceiveTicks = _lastSendTicks;
            _lastProgressTicks = _lastSendTicks;
            _lastFrameSentTicks = _lastSendTicks;
            lock (_lock)
            {
                bool reconnected = _everConnected;
                if (reconnected) _counters.Reconnects++;
                _everConnected = true;
                _welcome = welcome;
                _lastFailure = null;
                _controlOverflowReported = false;
                if (_options.RestoreSessionOnReconnect && reconnected) RequeueSessionState();
                PushEvent(new ClientEvent
                {
                    Kind = ClientEventKind.Connected,
                    Welcome = welcome,
                    Message = "session " + welcome.SessionId + " with " + _options.Endpoint + " (server " +
                              welcome.ServerVersion + ", protocol " + welcome.ProtocolMajor + "." + welcome.ProtocolMinor +
                              ", " + welcome.InitialCredits + " credits, latency " + welcome.LatencyFrames + " frames)",
                });
                if (!string.IsNullOrEmpty(welcome.Warning))
                {
                    PushEvent(new ClientEvent { Kind = ClientEventKind.Warning, Message = welcome.Warning });
                }
                _allocBaseline = Allocations.CurrentThread();
                SetState(ClientState.Connected);
            }
        }

        // Called under _lock: put the remembered prompt / params / state at the front of the control queue.
        private void RequeueSessionState()
        {
            var restored = new List<object>();
            if (_lastPrompt != null) restored.Add(_lastPrompt);
            if (_mergedParams != null && _mergedParams.SetMask != 0) restored.Add(_mergedParams);
            if (_state.Count > 0)
            {
                var s = new StateMessage { ReplaceAll = true, ClientTimeUs = NowUs() };
                s.Entries.AddRange(_state.Values);
                restored.Add(s);
            }
            // Drop queued copies of the same kinds (they are older than or equal to what is restored).
            foreach (object queued in _controls)
            {
                if (queued is PromptMessage || queued is ParamsMessage || queued is StateMessage) continue;
                restored.Add(queued);
            }
            _controls.Clear();
            foreach (object m in restored) _controls.Enqueue(m);
        }

        private void SendControls()
        {
            while (true)
            {
                object m;
                lock (_lock)
                {
                    if (_controls.Count == 0) return;
                    m = _controls.Peek();
                }
                ArraySegment<byte> encoded;
                try
                {
                    encoded = EncodeControl(m);
                }
                catch (ProtocolException e)
                {
                    lock (_lock)
                    {
                        _controls.Dequeue();
                        PushEvent(new ClientEvent { Kind = ClientEventKind.Warning, Message = "dropped a control message: " + e.Message, Exception = e });
                    }
                    continue;
                }
                _transport.Send(encoded);
                _lastSendTicks = Stopwatch.GetTimestamp();
                lock (_lock) _controls.Dequeue();
            }
        }

        private ArraySegment<byte> EncodeControl(object m)
        {
            var prompt = m as PromptMessage;
            if (prompt != null) return _codec.Encode(prompt);
            var parameters = m as ParamsMessage;
            if (parameters != null) return _codec.Encode(parameters);
            var gameEvent = m as GameEventMessage;
            if (gameEvent != null) return _codec.Encode(gameEvent);
            var state = m as StateMessage;
            if (state != null) return _codec.Encode(state);
            var stats = m as StatsRequestMessage;
            if (stats != null) return _codec.EncodeStatsRequest(stats.RequestId);
            throw new ProtocolException((int)ErrorCode.UnknownType, "cannot send a " + m.GetType().Name);
        }

        private void SendPendingFrame()
        {
            if (_credits <= 0) return;
            lock (_lock)
            {
                if (!_hasPending) return;
                PendingFrame t = _sending;
                _sending = _pending;
                _pending = t;
                _hasPending = false;
            }
            PendingFrame f = _sending;
            string refusal = CheckAgainstWelcome(ref f.Header, f.Length);
            if (refusal != null)
            {
                // The server would refuse it: drop it here, keep the credit, say why (once per distinct reason).
                lock (_lock)
                {
                    _counters.FramesRefusedLocally++;
                    if (refusal != _lastRefusal)
                    {
                        _lastRefusal = refusal;
                        PushEvent(new ClientEvent { Kind = ClientEventKind.Warning, Message = refusal });
                    }
                }
                return;
            }
            f.Header.SessionId = _welcome.SessionId;
            f.Header.SendTimeUs = NowUs();
            _monitor.FrameSent(f.Header.FrameId, f.Header.SendTimeUs);
            ArraySegment<byte> header = _codec.EncodeFrame(ref f.Header);
            _transport.Send(header, new ArraySegment<byte>(f.Pixels, 0, f.Length));
            _credits--;
            _inFlight++;
            _lastSendTicks = Stopwatch.GetTimestamp();
            if (_inFlight == 1) _lastFrameSentTicks = _lastSendTicks;
            lock (_lock) _counters.FramesSent++;
        }

        private string _lastRefusal;

        // The limits the Welcome announced; null when the frame is acceptable.
        private string CheckAgainstWelcome(ref FrameHeader h, int length)
        {
            WelcomeMessage w = _welcome;
            if ((w.MaxWidth > 0 && h.Width > w.MaxWidth) || (w.MaxHeight > 0 && h.Height > w.MaxHeight))
            {
                return "frame " + h.Width + "x" + h.Height + " exceeds the server's limit " + w.MaxWidth + "x" +
                       w.MaxHeight + " (Welcome.max_width/max_height): lower the capture size or raise the server's " +
                       "limits.max_width/max_height";
            }
            if (w.MaxMessageBytes > 0 && length > w.MaxMessageBytes)
            {
                return "frame of " + length + " bytes exceeds the server's max_message_bytes " + w.MaxMessageBytes +
                       ": lower the capture size or raise the server's limits.max_message_bytes";
            }
            if (w.PixelFormats != null && w.PixelFormats.Length > 0 && !Contains(w.PixelFormats, h.PixelFormat))
            {
                return "the server does not accept pixel format " + h.PixelFormat + " (it accepts " +
                       string.Join(", ", Array.ConvertAll(w.PixelFormats, x => x.ToString())) + "): submit one of those";
            }
            return null;
        }

        // A loop, not Array.IndexOf: the generic comparer may box enums under mono (this runs per frame).
        private static bool Contains(PixelFormat[] formats, PixelFormat f)
        {
            for (int i = 0; i < formats.Length; i++)
            {
                if (formats[i] == f) return true;
            }
            return false;
        }

        private void Handle()
        {
            Message type;
            try
            {
                type = _codec.ReadType(_message.Segment(0));
            }
            catch (ProtocolException e)
            {
                Malformed(e);
                return;
            }
            switch (type)
            {
                case Message.Result:
                    HandleResult();
                    return;
                case Message.Credit:
                {
                    uint granted;
                    try
                    {
                        granted = _codec.DecodeCredit(_message.Segment(0));
                    }
                    catch (ProtocolException e)
                    {
                        Malformed(e);
                        return;
                    }
                    ReturnCredits((int)granted, (int)granted);
                    lock (_lock) _counters.CreditsReturned += granted;
                    return;
                }
                case Message.Pong:
                    return; // traffic noted by the caller; nothing else to do
                default:
                    HandleRare(type);
                    return;
            }
        }

        private void HandleResult()
        {
            ResultHeader h = default(ResultHeader);
            bool headerDecoded = false;
            try
            {
                _codec.DecodeResult(_message.Segment(0), out h);
                headerDecoded = true;
                if (_message.Count != 2)
                {
                    throw new ProtocolException((int)ErrorCode.BadPartCount,
                        "Result came with " + _message.Count + " parts; it needs 2 (header, pixels)");
                }
                long expected = BridgeCodec.ExpectedPixelBytes(h.Width, h.Height, h.Stride, h.PixelFormat);
                if (expected != _message.Length(1))
                {
                    throw new ProtocolException((int)ErrorCode.BadPixelSize,
                        "Result " + h.FrameId + " pixel part has " + _message.Length(1) + " bytes but stride x " +
                        "height = " + expected);
                }
            }
            catch (ProtocolException e)
            {
                // A readable header still returns its credit (the server spent the frame); an unreadable one
                // cannot be trusted, and a stalled pipeline is caught by ServerSilenceTimeoutMs instead.
                if (headerDecoded) ReturnCredits(h.CreditsGranted > 0 ? (int)h.CreditsGranted : 1, 1);
                Malformed(e);
                return;
            }
            ReturnCredits(h.CreditsGranted > 0 ? (int)h.CreditsGranted : 1, 1);
            ResultFrame back = _back;
            back.Header = h;
            back.TakePixels(_message, 1);
            back.ReceivedTimeUs = NowUs();
            _monitor.ResultReceived(h.FrameId, h.SendTimeUs, back.ReceivedTimeUs);
            lock (_lock)
            {
                _back = _ready;
                _ready = back;
                if (_hasReady) _counters.ResultsOverwritten++;
                _hasReady = true;
                _counters.ResultsReceived++;
                Monitor.PulseAll(_lock);
            }
        }

        private void ReturnCredits(int credits, int completed)
        {
            _credits += credits;
            _inFlight = Math.Max(0, _inFlight - completed);
            _lastProgressTicks = Stopwatch.GetTimestamp();
        }

        private void HandleRare(Message type)
        {
            object decoded;
            try
            {
                decoded = _codec.Decode(_message.Segment(0));
            }
            catch (ProtocolException e)
            {
                Malformed(e);
                return;
            }
            var error = decoded as ErrorMessage;
            if (error != null)
            {
                lock (_lock)
                {
                    _counters.ServerErrors++;
                    PushEvent(new ClientEvent
                    {
                        Kind = ClientEventKind.ServerError,
                        Error = error,
                        Message = error.Code + (error.Field.Length > 0 ? " (" + error.Field + ")" : "") + ": " + error.Message,
                    });
                }
                if (error.SessionClosed || error.Code == ErrorCode.NotHello || error.Code == ErrorCode.UnknownSession ||
                    error.Code == ErrorCode.SessionExpired)
                {
                    throw new TransportException("the server closed the session: " + error.Code + ": " + error.Message);
                }
                return;
            }
            var notice = decoded as NoticeMessage;
            if (notice != null)
            {
                lock (_lock) PushEvent(new ClientEvent { Kind = ClientEventKind.Notice, Notice = notice, Message = notice.Message });
                return;
            }
            var stats = decoded as StatsMessage;
            if (stats != null)
            {
                lock (_lock)
                {
                    _lastStats = stats;
                    PushEvent(new ClientEvent { Kind = ClientEventKind.Stats, Stats = stats, Message = "stats " + stats.RequestId });
                }
                return;
            }
            if (decoded is ByeMessage)
            {
                throw new TransportException("the server ended the session: " + ((ByeMessage)decoded).Reason);
            }
            // Welcome/Hello/Frame/... from a server are unexpected here; ignore them.
        }

        private void Malformed(ProtocolException e)
        {
            lock (_lock)
            {
                _counters.MalformedMessages++;
                PushEvent(new ClientEvent { Kind = ClientEventKind.Warning, Message = "dropped a malformed message: " + e.Message, Exception = e });
            }
        }

        private void LoseSession(string reason, Exception e)
        {
            CloseTransport();
            if (!_stopping) _monitor.SessionLost(reason);
            lock (_lock)
            {
                _lastFailure = e;
                PushEvent(new ClientEvent { Kind = ClientEventKind.Disconnected, Message = reason, Exception = e });
                if (!_stopping) SetState(ClientState.Reconnecting);
            }
        }

        private void Fail(Exception e)
        {
            CloseTransport();
            _monitor.Failed(e);
            lock (_lock)
            {
                _lastFailure = e;
                PushEvent(new ClientEvent { Kind = ClientEventKind.Failed, Message = e.Message, Exception = e });
                SetState(ClientState.Failed);
            }
        }

        private void CloseTransport()
        {
            if (_transport != null)
            {
                _transport.Dispose();
                _transport = null;
            }
            _credits = 0;
            _inFlight = 0;
        }

        // Called under _lock.
        private void PushEvent(ClientEvent e)
        {
            if (_events.Count >= MaxEvents) _events.Dequeue();
            _events.Enqueue(e);
        }

        // Called under _lock.
        private void SetState(ClientState s)
        {
            if (_state_ == ClientState.Closed) return;
            _state_ = s;
            _stateChanged.Set();
        }

        // Wall clock read once, then advanced by the monotonic Stopwatch: cheap, allocation-free (mono's
        // DateTime.UtcNow allocates now and then) and immune to clock steps during a session.
        private static readonly long ClockBaseUs = (DateTime.UtcNow.Ticks - EpochTicks) / 10;
        private static readonly long ClockBaseTicks = Stopwatch.GetTimestamp();

        /// <summary>Client clock in microseconds since the Unix epoch (monotonic, no allocation).</summary>
        public static ulong NowUs()
        {
            long elapsed = Stopwatch.GetTimestamp() - ClockBaseTicks;
            return (ulong)(ClockBaseUs + elapsed / Stopwatch.Frequency * 1000000L +
                           elapsed % Stopwatch.Frequency * 1000000L / Stopwatch.Frequency);
        }

        private static long TicksToMs(long ticks)
        {
            return ticks * 1000 / Stopwatch.Frequency;
        }

        private static long TicksToUs(long ticks)
        {
            return ticks / Stopwatch.Frequency * 1000000L + ticks % Stopwatch.Frequency * 1000000L / Stopwatch.Frequency;
        }

        private sealed class PendingFrame
        {
            public byte[] Pixels = new byte[0];
            public int Length;
            public FrameHeader Header;

            public void Ensure(int length)
            {
                if (Pixels.Length < length) Pixels = new byte[length];
            }
        }
    }
}
