"""The wire protocol: FlatBuffers messages (schemas/bridge.fbs) between the server and engine clients.

``version`` holds the protocol version, ``codec`` turns messages into bytes and back (it is the only
importer of the flatc output in ``_generated``), ``handshake`` decides on Hello messages.
This package never imports torch.
"""
