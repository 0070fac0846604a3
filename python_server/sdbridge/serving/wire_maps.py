"""Wire pixel enums <-> runtime pixel enums (the one mapping between sdbridge.protocol and sdbridge.runtime)."""

from __future__ import annotations

from sdbridge.protocol import messages as m
from sdbridge.runtime.pixels import PixelFormat, RowOrder

WIRE_FORMATS: dict[m.PixelFormat, PixelFormat] = {
    m.PixelFormat.RGBA8: PixelFormat.RGBA8,
    m.PixelFormat.BGRA8: PixelFormat.BGRA8,
    m.PixelFormat.RGB8: PixelFormat.RGB8,
}
WIRE_ROWS: dict[m.RowOrder, RowOrder] = {
    m.RowOrder.TOP_DOWN: RowOrder.TOP_DOWN,
    m.RowOrder.BOTTOM_UP: RowOrder.BOTTOM_UP,
}
RUNTIME_FORMATS = {v: k for k, v in WIRE_FORMATS.items()}
RUNTIME_ROWS = {v: k for k, v in WIRE_ROWS.items()}
