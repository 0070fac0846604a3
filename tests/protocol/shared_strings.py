"""A hostile peer's encoder: State and GameEvent with every repeated string stored once.

FlatBuffers lets many offsets point at one string, so 1024 keys sharing one 4 KiB value cost ~37 KB on the wire
and ~4 MiB once unpacked. The project's codec never writes such messages (it stores each string where it is
used); this builds them from the flatc-generated builder functions, as another implementation could.
"""

from __future__ import annotations

from typing import Any

import flatbuffers

from sdbridge.protocol._generated import bridge_generated as fb
from sdbridge.protocol.messages import GameEvent, MessageType, State, ValueKind
from sdbridge.protocol.version import FILE_IDENTIFIER


def _text(b: flatbuffers.Builder, text: str) -> int:
    return b.CreateSharedString(text) if text else 0


def _key_value(b: flatbuffers.Builder, key: str, value: Any) -> int:
    key_off = _text(b, key)
    value_off = _text(b, value) if isinstance(value, str) else 0
    fb.KeyValueStart(b)
    fb.KeyValueAddKey(b, key_off)
    if isinstance(value, bool):
        fb.KeyValueAddKind(b, int(ValueKind.BOOL))
        fb.KeyValueAddBoolValue(b, value)
    elif isinstance(value, int):
        fb.KeyValueAddKind(b, int(ValueKind.INT))
        fb.KeyValueAddIntValue(b, value)
    elif isinstance(value, float):
        fb.KeyValueAddKind(b, int(ValueKind.FLOAT))
        fb.KeyValueAddFloatValue(b, value)
    else:
        fb.KeyValueAddKind(b, int(ValueKind.STRING))
        fb.KeyValueAddStringValue(b, value_off)
    return fb.KeyValueEnd(b)


def _vector(b: flatbuffers.Builder, start: Any, offsets: list[int]) -> int:
    start(b, len(offsets))
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def encode_shared(message: State | GameEvent) -> bytes:
    """The wire bytes of a State or GameEvent with shared strings (raises OverflowError etc. for values the
    wire cannot carry, as struct packing does)."""
    b = flatbuffers.Builder(1024)
    if isinstance(message, State):
        entries = _vector(b, fb.StateStartEntriesVector, [_key_value(b, k, v) for k, v in message.entries])
        fb.StateStart(b)
        fb.StateAddEntries(b, entries)
        fb.StateAddReplaceAll(b, message.replace_all)
        body, kind = fb.StateEnd(b), MessageType.STATE
    else:
        name = _text(b, message.name)
        payload = _vector(b, fb.GameEventStartPayloadVector, [_key_value(b, k, v) for k, v in message.payload])
        fb.GameEventStart(b)
        fb.GameEventAddName(b, name)
        fb.GameEventAddPayload(b, payload)
        body, kind = fb.GameEventEnd(b), MessageType.GAME_EVENT
    fb.EnvelopeStart(b)
    fb.EnvelopeAddBody(b, body)
    fb.EnvelopeAddBodyType(b, int(kind))
    b.Finish(fb.EnvelopeEnd(b), file_identifier=FILE_IDENTIFIER)
    return bytes(b.Output())
