"""The one exception hierarchy of sdbridge. Every error we raise derives from BridgeError."""

from __future__ import annotations


class BridgeError(Exception):
    """Base class of every error sdbridge raises on purpose."""


class ConfigError(BridgeError, ValueError):
    """A configuration value is invalid: the message names the value, the limit and the fix."""


class InputError(BridgeError, ValueError):
    """An input (image, parameter) is invalid: the message names the value, the limit and the fix."""


class ModelNotFoundError(BridgeError, FileNotFoundError):
    """A named model is not on disk and cannot be fetched; the message says where we looked."""


class BackendUnavailableError(BridgeError, RuntimeError):
    """A requested accelerator or device cannot be used here; we never fall back silently."""


class ProtocolError(BridgeError):
    """A wire message is malformed or violates the protocol. Carries a protocol error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class FieldError(ProtocolError):
    """A refused value: `field_name` is the wire field (or config key) named in the Error reply."""

    def __init__(self, code: int, field_name: str, message: str) -> None:
        super().__init__(int(code), message)
        self.field_name = field_name


class VersionMismatchError(ProtocolError):
    """The peer speaks an incompatible protocol major version."""


class TransportError(BridgeError, ConnectionError):
    """A connection failed, timed out or was refused."""


class EngineBuildError(BridgeError, RuntimeError):
    """An engine build (ONNX export, TensorRT build) failed; nothing was added to the engine cache."""
