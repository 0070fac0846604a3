"""The limits of a StyleImage header (protocol 1.4): a named style reference image for the server's IP-Adapter.

Like a Frame's header (sdbridge.protocol.codec.validate_image_header), checked before its pixel part is looked at:
a non-empty name, a known pixel format and row order, 1 <= width/height <= the server's limits, a stride that holds
a row, and stride x height within the part limit. Each refusal is a FieldError naming the field (``StyleImage.width``),
the value, the limit and the fix. The per-session count (limits.max_style_images) is the server's check.
"""

from __future__ import annotations

from typing import Any

from sdbridge.errors import FieldError
from sdbridge.protocol.messages import ErrorCode, PixelFormat, RowOrder, StyleImage

__all__ = ["validate_style_image"]


def _refuse(code: ErrorCode, field: str, message: str) -> FieldError:
    exc = FieldError(code, f"StyleImage.{field}", message)
    exc.code = code  # the ErrorCode member, as every decode error's
    return exc


def validate_style_image(msg: StyleImage, limits: Any) -> None:
    """Refuse a StyleImage header outside `limits` (a DecodeLimits: max_width, max_height, max_message_bytes)."""
    if not msg.name:
        raise _refuse(ErrorCode.BAD_PARAM, "name", "StyleImage.name is empty; name the style (Params.style_blend "
                                                   "weighs it by this name)")
    if not isinstance(msg.format, PixelFormat) or msg.format is PixelFormat.UNKNOWN:
        valid = ", ".join(f"{e.name} ({e.value})" for e in PixelFormat if e.value)
        raise _refuse(ErrorCode.UNSUPPORTED_PIXEL_FORMAT, "format",
                      f"StyleImage.format={int(msg.format)} is not supported; use {valid}")
    if not isinstance(msg.row_order, RowOrder) or msg.row_order is RowOrder.UNKNOWN:
        raise _refuse(ErrorCode.BAD_PARAM, "row_order",
                      f"StyleImage.row_order={int(msg.row_order)} is not valid; use TopDown (1) or BottomUp (2)")
    for field, value, limit in (("width", msg.width, limits.max_width), ("height", msg.height, limits.max_height)):
        if value <= 0:
            raise _refuse(ErrorCode.BAD_DIMENSION, field, f"StyleImage.{field}={value} must be >= 1")
        if value > limit:
            raise _refuse(ErrorCode.TOO_LARGE, field,
                          f"StyleImage.{field}={value} exceeds the server limit {limit} (limits.max_{field}); "
                          "send a smaller image (the IP-Adapter's image encoder sees 224 x 224 anyway)")
    row_bytes = msg.width * msg.format.bytes_per_pixel
    if msg.stride < row_bytes:
        raise _refuse(ErrorCode.BAD_PIXEL_SIZE, "stride",
                      f"StyleImage.stride={msg.stride} is smaller than width x bytes per pixel = {msg.width} x "
                      f"{msg.format.bytes_per_pixel} = {row_bytes} ({msg.format.name}); set stride >= {row_bytes}")
    if msg.nbytes > limits.max_message_bytes:
        raise _refuse(ErrorCode.TOO_LARGE, "stride",
                      f"StyleImage: stride x height = {msg.stride} x {msg.height} = {msg.nbytes} bytes exceeds the "
                      f"part limit {limits.max_message_bytes} (limits.max_message_bytes); send a smaller image")
