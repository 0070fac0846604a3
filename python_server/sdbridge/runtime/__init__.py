"""Server runtime: per-session queues, the session table and the worker thread.

Nothing here knows about sockets or the wire format; `sdbridge.server` connects it to the transport.
"""
