"""The wire protocol: FlatBuffers messages (schemas/bridge.fbs) between the server and engine clients.

``version`` holds the protocol version; ``messages`` the plain dataclasses and Enums of every message;
``codec`` turns them into bytes and back (it is the only importer of flatc's accessors,
``_generated/bridge_generated.py``; ``_verify`` and ``_scalar`` are its bounds-checking verifier and its
fast path for scalar-only messages); ``handshake`` decides on Hello / Welcome. The version, the Enums and
the table layouts come from ``_generated/bridge_schema.py``, which schemas/codegen.py writes from
bridge.fbs. This package never imports torch.
"""
