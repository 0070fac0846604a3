// The state one BridgeClient shares between the caller's threads and its I/O thread, behind one lock:
// connection state, Welcome, last failure, counters, events for the game thread, the queue of control
// messages, and the remembered prompt / params / state that are replayed after a reconnect.
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using System.Collections.Generic;
using System.Threading;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Protocol;

namespace StreamDiffusion.Bridge.Core.Client
{
    /// <summary>Shared session state. Members named ...Locked and the public fields are used under
    /// <see cref="Lock"/>; the other methods take it themselves.</summary>
    internal sealed class SessionState
    {
        private const int MaxEvents = 256;

        /// <summary>Guards every field of this object and of the client's FrameSlots.</summary>
        internal readonly object Lock = new object();
        /// <summary>Set whenever State changes (Connect waits on it).</summary>
        internal readonly ManualResetEvent StateChanged = new ManualResetEvent(false);
        /// <summary>Wakes the I/O thread (a control message, a frame, a reconnect or a stop request).</summary>
        internal readonly AutoResetEvent Wake = new AutoResetEvent(false);

        internal ClientState State = ClientState.Idle;
        internal WelcomeMessage Welcome;
        internal Exception LastFailure;
        internal ClientCounters Counters;
        internal StatsMessage LastStats;
        internal bool ReconnectRequested;

        private readonly BridgeClientOptions _options;
        private readonly Queue<object> _controls = new Queue<object>();
        private readonly Queue<ClientEvent> _events = new Queue<ClientEvent>();
        private readonly Dictionary<string, KeyValueData> _state = new Dictionary<string, KeyValueData>();
        private PromptMessage _lastPrompt;
        private ParamsMessage _mergedParams;
        private readonly Dictionary<string, StyleImageControl> _styles = new Dictionary<string, StyleImageControl>();
        private PlaneKind[] _wantedPlanes = new PlaneKind[0];
        private uint _nextRequestId = 1;
        private bool _controlOverflowReported;

        internal SessionState(BridgeClientOptions options)
        {
            _options = options;
        }

        // ------------------------------------------------------------------ state and events

        /// <summary>Called under Lock. A Closed client stays Closed.</summary>
        internal void SetStateLocked(ClientState s)
        {
            if (State == ClientState.Closed) return;
            State = s;
            StateChanged.Set();
        }

        /// <summary>Called under Lock. The oldest event is dropped beyond MaxEvents.</summary>
        internal void PushEventLocked(ClientEvent e)
        {
            if (_events.Count >= MaxEvents) _events.Dequeue();
            _events.Enqueue(e);
        }

        internal void PushEvent(ClientEvent e)
        {
            lock (Lock) PushEventLocked(e);
        }

        internal bool TryDequeueEvent(out ClientEvent e)
        {
            lock (Lock)
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

        /// <summary>True once if the application asked for a reconnect since the last call.</summary>
        internal bool TakeReconnectRequest()
        {
            lock (Lock)
            {
                bool requested = ReconnectRequested;
                ReconnectRequested = false;
                return requested;
            }
        }

        // ------------------------------------------------------------------ control messages (caller side)

        internal void QueuePrompt(PromptMessage prompt)
        {
            lock (Lock)
            {
                _lastPrompt = prompt;
                EnqueueControlLocked(prompt);
            }
        }

        internal void QueueParams(ParamsMessage parameters)
        {
            lock (Lock)
            {
                _mergedParams = ControlMessages.Merge(_mergedParams, parameters);
                // Seed and SeedBlend both set the noise seed: the newer replaces the other (the server applies a
                // SeedBlend after a Seed, so replaying both would bring back an older blend), as the Python client keeps it.
                if (parameters.SeedBlend != null) _mergedParams.Seed = null;
                else if (parameters.Seed != null) _mergedParams.SeedBlend = null;
                EnqueueControlLocked(parameters);
            }
        }

        /// <summary>Protocol 1.4: queues a style image and keeps it (by name) for a reconnect's replay.</summary>
        internal void QueueStyleImage(StyleImageControl style)
        {
            lock (Lock)
            {
                _styles[style.Header.Name] = style;
                EnqueueControlLocked(style);
            }
        }

        /// <summary>Protocol 1.4: the plane kinds the server uses now (the Welcome's, then WantedPlanesChanged notices;
        /// empty while no session is open).</summary>
        internal PlaneKind[] WantedPlanes
        {
            get { lock (Lock) return _wantedPlanes; }
            set { lock (Lock) _wantedPlanes = value ?? new PlaneKind[0]; }
        }

        internal void QueueGameEvent(GameEventMessage gameEvent, ulong lastSubmittedFrameId)
        {
            lock (Lock)
            {
                if (gameEvent.FrameId == 0) gameEvent.FrameId = lastSubmittedFrameId;
                if (gameEvent.ClientTimeUs == 0) gameEvent.ClientTimeUs = ClientClock.NowUs();
                EnqueueControlLocked(gameEvent);
            }
        }

        internal void QueueState(StateMessage state)
        {
            lock (Lock)
            {
                if (state.ReplaceAll) _state.Clear();
                foreach (KeyValueData kv in state.Entries) _state[kv.Key] = kv;
                if (state.ClientTimeUs == 0) state.ClientTimeUs = ClientClock.NowUs();
                EnqueueControlLocked(state);
            }
        }

        internal uint QueueStatsRequest()
        {
            lock (Lock)
            {
                uint id = _nextRequestId++;
                EnqueueControlLocked(new StatsRequestMessage { RequestId = id });
                return id;
            }
        }

        // Called under Lock. Gameplay code must never get an exception because the server is down, so a full
        // queue drops its oldest message (counted and reported once per outage); prompt, params and state are
        // re-sent from the remembered values on reconnect anyway.
        private void EnqueueControlLocked(object message)
        {
            if (_controls.Count >= Math.Max(1, _options.MaxQueuedControlMessages))
            {
                _controls.Dequeue();
                Counters.ControlMessagesDropped++;
                if (!_controlOverflowReported)
                {
                    _controlOverflowReported = true;
                    PushEventLocked(new ClientEvent
                    {
                        Kind = ClientEventKind.Warning,
                        Message = "more than MaxQueuedControlMessages = " + _options.MaxQueuedControlMessages +
                                  " control messages queued while the client is " + State + "; the oldest are " +
                                  "dropped (Counters.ControlMessagesDropped). Raise the limit or send fewer events " +
                                  "while disconnected",
                    });
                }
            }
            _controls.Enqueue(message);
            Wake.Set();
        }

        // ------------------------------------------------------------------ control messages (I/O side)

        /// <summary>The oldest queued control message without removing it; false when none.</summary>
        internal bool TryPeekControl(out object message)
        {
            lock (Lock)
            {
                message = _controls.Count > 0 ? _controls.Peek() : null;
                return message != null;
            }
        }

        /// <summary>Removes the message TryPeekControl returned.</summary>
        internal void DropControl()
        {
            lock (Lock) _controls.Dequeue();
        }

        /// <summary>True while the parameters set so far ask for txt2img (Params.Txt2img): the I/O thread then asks
        /// the server for a generated frame with every credit it holds, and sends no frames.</summary>
        internal bool Txt2img
        {
            get { lock (Lock) return _mergedParams != null && _mergedParams.Txt2img == true; }
        }

        /// <summary>Called under Lock.</summary>
        internal bool HasControlsLocked
        {
            get { return _controls.Count > 0; }
        }

        /// <summary>Called under Lock when a session opens: a new outage may report its overflow again, and after
        /// a reconnect (when the options ask for it) the remembered prompt / params / state go to the front.</summary>
        internal void OnSessionOpenedLocked(bool reconnected)
        {
            _controlOverflowReported = false;
            if (_options.RestoreSessionOnReconnect && reconnected) RequeueSessionStateLocked();
        }

        // Called under Lock: put the remembered prompt / params / state at the front of the control queue.
        private void RequeueSessionStateLocked()
        {
            var restored = new List<object>();
            if (_lastPrompt != null) restored.Add(_lastPrompt);
            restored.AddRange(_styles.Values);  // before the params whose StyleBlend names them
            if (_mergedParams != null && _mergedParams.SetMask != 0) restored.Add(_mergedParams);
            if (_state.Count > 0)
            {
                var s = new StateMessage { ReplaceAll = true, ClientTimeUs = ClientClock.NowUs() };
                s.Entries.AddRange(_state.Values);
                restored.Add(s);
            }
            // Drop queued copies of the same kinds (they are older than or equal to what is restored).
            foreach (object queued in _controls)
            {
                if (queued is PromptMessage || queued is ParamsMessage || queued is StateMessage ||
                    queued is StyleImageControl) continue;
                restored.Add(queued);
            }
            _controls.Clear();
            foreach (object m in restored) _controls.Enqueue(m);
        }
    }
}
