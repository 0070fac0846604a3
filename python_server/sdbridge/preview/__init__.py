"""Browser preview and control page: an HTTP + websocket server on its own thread.

`PreviewServer` serves one static page (static/) and a websocket. The page lists the server's
sessions, shows the watched session's input and output as throttled JPEGs, charts frames/s,
latency and skip rate, and sends prompt, parameter and game-event changes that the bridge server
applies exactly like a client's Prompt/Params/GameEvent messages (the session's engine client gets a
Notice with source "preview"). `FrameTaps` is the thread-safe handoff from the server's I/O thread.
"""

from sdbridge.preview.taps import FrameTaps, TapFrame

__all__ = ["FrameTaps", "TapFrame"]
