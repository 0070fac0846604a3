"""StyleImage messages on the server (protocol 1.4): a client's named style reference images for the IP-Adapter.

A StyleImage (header + pixel part, like a Frame's) is accepted only by a server with an IP-Adapter and, from a
client, only in a session that negotiated the StyleImages capability (the preview page's uploads, sent on behalf of
a session, need no client capability), with a header within the Frame limits
(sdbridge.protocol.style_check) and at most `limits.max_style_images` distinct names per session (sending a name
again replaces that image). Its pixels are copied into an (H, W, 3) uint8 RGB array, top row first, and become the
pipeline update `style_images` (runtime.updates.style_update, applied on the worker thread in arrival
order with the session's Prompt/Params, so a Params.style_blend naming it right after finds it). Every refusal is
a FieldError naming the field; the session stays up.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sdbridge.config import LimitsConfig
from sdbridge.errors import FieldError
from sdbridge.protocol import codec
from sdbridge.protocol import messages as m
from sdbridge.protocol.style_check import validate_style_image
from sdbridge.runtime.pixels import Layout, pixel_view
from sdbridge.runtime.sessions import Session, SessionTable
from sdbridge.runtime.updates import style_update
from sdbridge.serving.wire_maps import WIRE_FORMATS, WIRE_ROWS, PerSession

__all__ = ["StyleIntake", "style_rgb"]


def style_rgb(message: m.StyleImage, pixels: memoryview | bytes) -> np.ndarray:
    """The pixels of a checked StyleImage as an (H, W, 3) uint8 RGB array of its own, top row first."""
    layout = Layout(message.width, message.height, message.stride, WIRE_FORMATS[message.format],
                    WIRE_ROWS[message.row_order])
    return np.array(pixel_view(pixels, layout))  # a copy: the wire buffer is not kept


class StyleIntake:
    """Checks StyleImage messages and turns them into pipeline updates (I/O thread only)."""

    def __init__(self, limits: LimitsConfig, decode_limits: codec.DecodeLimits, table: SessionTable,
                 offered: bool) -> None:
        """`offered`: this server takes style images (it has an IP-Adapter; Capability.STYLE_IMAGES offered)."""
        self.offered = offered
        self.limits = limits
        self.decode_limits = decode_limits
        self._names = PerSession(table)  # session id -> the style names it has sent

    def names(self, session: Session) -> frozenset[str]:
        """The style names `session` has sent so far."""
        return frozenset(self._names.get(session.session_id, ()))

    def accept(self, session: Session, message: m.StyleImage, pixels: memoryview | bytes | None,
               from_client: bool = True) -> dict[str, Any]:
        """The pipeline update values for `message` (FieldError naming the field when refused); `from_client`
        False: sent on the session's behalf (the preview page), the client's capabilities do not matter."""
        if not self.offered:
            raise FieldError(m.ErrorCode.BAD_PARAM, "StyleImage",
                             f"StyleImage {message.name!r}: this server has no IP-Adapter, so it takes no style "
                             f"images; start it with --ip-adapter SOURCE (or [model] ip_adapter)")
        if from_client and not session.capabilities & m.Capability.STYLE_IMAGES:
            raise FieldError(m.ErrorCode.BAD_PARAM, "StyleImage",
                             f"StyleImage {message.name!r}: session {session.session_id} did not negotiate the "
                             f"StyleImages capability (this server offers it only with an IP-Adapter, --ip-adapter); "
                             f"check Welcome.capabilities before sending style images")
        validate_style_image(message, self.decode_limits)  # (the control inbox's messages were not decoded)
        size = 0 if pixels is None else memoryview(pixels).nbytes
        if size != message.nbytes:
            raise FieldError(m.ErrorCode.BAD_PIXEL_SIZE, "StyleImage.stride",
                             f"StyleImage {message.name!r}: pixel part has {size} bytes but stride x height = "
                             f"{message.stride} x {message.height} = {message.nbytes}; send exactly that many")
        names: set[str] = self._names.get(session.session_id, set())
        limit = self.limits.max_style_images
        if message.name not in names and len(names) >= limit:
            raise FieldError(m.ErrorCode.TOO_LARGE, "StyleImage.name",
                             f"StyleImage {message.name!r}: session {session.session_id} holds {len(names)} style "
                             f"images, limits.max_style_images={limit} ({', '.join(sorted(names))}); replace one by "
                             f"sending its name again, or raise limits.max_style_images in the server config")
        assert pixels is not None
        rgb = style_rgb(message, pixels)
        names.add(message.name)
        self._names[session.session_id] = names
        return style_update(message.name, rgb)
