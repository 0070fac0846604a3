"""A Result echoes the client-clock timestamps of the frame it answers (capture and send time), so an engine
client can measure its round trip from its own clock without keeping a table of send times."""

from __future__ import annotations

from sdbridge.protocol import messages as m
from sdbridge.server import BridgeServer

from .conftest import RawPeer, small_config


def test_result_echoes_capture_and_send_time(identity_inline: bool) -> None:
    server = BridgeServer(small_config(identity_inline=identity_inline))
    server.start_in_thread()
    peer = RawPeer(server.endpoint)
    try:
        peer.hello()
        header = m.FrameHeader(frame_id=7, width=4, height=2, stride=16, pixel_format=m.PixelFormat.RGBA8,
                               capture_time_us=1_700_000_000_000_001, send_time_us=1_700_000_000_000_250)
        peer.send_msg(header, bytes(32))
        result = peer.recv_until(m.ResultHeader)[-1]
        assert isinstance(result, m.ResultHeader) and result.frame_id == 7
        assert result.capture_time_us == 1_700_000_000_000_001
        assert result.send_time_us == 1_700_000_000_000_250
    finally:
        peer.close()
        server.close()
