"""The server's parts, one responsibility each; sdbridge.server composes them.

- dispatcher.py: decodes a client's message and routes it (Frame, Prompt, Params, GameEvent, State, ...);
- handshake.py: Hello -> Welcome (capabilities, credits, model description) or a refusal;
- outbound.py: everything that goes back to a client (encode guarded, Errors, Credits, Results with the
  send-queue backlog check, worker failures) and the worker -> I/O thread outbox;
- controls.py: commands from the preview page, applied on the I/O thread as if the client had sent them;
- observers.py: the one narrow interface (SessionObserver) through which the game-event rules
  (rules_observer.py), the recorder (recorder_observer.py) and the preview page (preview_observer.py) follow
  sessions; the server never calls their internals;
- stats.py: server-wide counters, percentiles and the Stats reply.

Per-session state (credits, rate limit, counters, pipeline handle) lives in sdbridge.runtime.sessions.Session.
"""
