"""Emit the C# client's typed Params members and their encode/decode from the Params table of bridge.fbs.

Declares its outputs in ``OUTPUTS`` (read by codegen.py's MIRRORS).
"""

from __future__ import annotations

#: (target language, file name, emitter(schema, registry)): the files this module writes
OUTPUTS: tuple = ()
