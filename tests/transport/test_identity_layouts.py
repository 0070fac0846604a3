"""The identity model returns the client's bytes unchanged, whatever the pixel layout."""

from __future__ import annotations

import numpy as np
import pytest

from sdbridge.protocol import messages as m
from sdbridge.server import BridgeServer

from .conftest import RawPeer


@pytest.mark.parametrize("fmt", [m.PixelFormat.RGBA8, m.PixelFormat.BGRA8, m.PixelFormat.RGB8])
@pytest.mark.parametrize("rows", [m.RowOrder.TOP_DOWN, m.RowOrder.BOTTOM_UP])
def test_identity_echoes_every_layout(server: BridgeServer, fmt: m.PixelFormat, rows: m.RowOrder) -> None:
    peer = RawPeer(server.endpoint)
    try:
        peer.hello()
        w, h = 13, 7
        stride = w * fmt.bytes_per_pixel + 5  # padded rows
        payload = np.random.default_rng(int(fmt) * 10 + int(rows)).integers(0, 256, stride * h,
                                                                             dtype=np.uint8).tobytes()
        peer.send_msg(m.FrameHeader(frame_id=3, width=w, height=h, stride=stride, pixel_format=fmt,
                                    row_order=rows), payload)
        message, pixels = peer.recv()
        assert isinstance(message, m.ResultHeader) and pixels is not None
        assert (message.frame_id, message.width, message.height) == (3, w, h)
        assert (message.stride, message.pixel_format, message.row_order) == (stride, fmt, rows)
        assert bytes(pixels) == payload
    finally:
        peer.close()
