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


def test_stats_count_the_session_frames(server: BridgeServer) -> None:
    from sdbridge.transport.client import BridgeClient

    image = np.zeros((8, 8, 4), dtype=np.uint8)
    with BridgeClient(server.endpoint, name="stats") as client:
        client.connect(timeout=5)
        for _ in range(5):
            client.submit(image)
            assert client.receive(timeout=5) is not None
        stats = client.stats(timeout=5)
        assert stats.session_id == client.session_id
    assert (stats.frames_in, stats.frames_out, stats.frames_dropped) == (5, 5, 0)
    assert stats.latency_p50_us > 0 and stats.latency_p99_us >= stats.latency_p50_us
    assert stats.fps_out > 0 and stats.uptime_s > 0
