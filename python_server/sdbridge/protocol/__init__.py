"""The wire protocol: FlatBuffers messages (schemas/bridge.fbs) between the server and engine clients.

``version`` holds the protocol version; ``messages`` the plain dataclasses and Enums of every message;
``codec`` turns them into bytes and back (it is the only importer of the flatc output in
``_generated``; ``_verify`` and ``_scalar`` are its bounds-checking verifier and its fast path for
scalar-only messages); ``handshake`` decides on Hello / Welcome. This package never imports torch.
"""
