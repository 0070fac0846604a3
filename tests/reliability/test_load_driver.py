"""The load driver itself: a reconnect in the middle of a run is reported as a reconnect, not as frames
that reached the wrong client.

A session lost between a result and the next submit makes `submit` reconnect and send in the new
session before the driver sees the new session id. The driver once cleared every frame in flight at
that point, the new session's too, and then reported their results as "not sent or already got"
(the CI failure of stop 12: two consecutive frame ids, the two credits of a fresh session).
"""

from __future__ import annotations

import threading
import time

import pytest

from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient
from tests.transport.conftest import small_config

from .load import ClientReport, client_loop


@pytest.mark.timeout(60)
def test_reconnect_inside_submit_is_a_reconnect_not_wrong_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    server = BridgeServer(small_config())
    endpoint = server.start_in_thread()
    submit = BridgeClient.submit
    calls = {"n": 0}

    def submit_losing_the_session_once(self: BridgeClient, image, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 40:  # as if an Error(SESSION_EXPIRED) had arrived behind the last result
            self._lose("test: session dropped between a result and the next submit")
        return submit(self, image, **kw)

    monkeypatch.setattr(BridgeClient, "submit", submit_losing_the_session_once)
    stop = threading.Event()
    report = ClientReport(0)
    thread = threading.Thread(target=client_loop, args=(endpoint, 0, 64, stop, True, report), daemon=True)
    try:
        thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and report.results < 80:
            time.sleep(0.05)
        stop.set()
        thread.join(30)
    finally:
        server.close()
    assert not thread.is_alive()
    assert calls["n"] > 40 and report.results >= 80, (calls, report)
    assert report.reconnects == 1, report
    assert report.reconnect_reasons == ["client 0: test: session dropped between a result and the next submit"]
    assert report.wrong == [], report.wrong
