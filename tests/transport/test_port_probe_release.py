"""commands/port_probe: the probe of --bind lets go of the port before it returns, so the server's own bind right
after succeeds. (It closed its probe socket only: libzmq closes a listener later, on its I/O thread, and two of three
`sdbridge serve --bind tcp://127.0.0.1:PORT` then failed with "Address already in use".)"""

from __future__ import annotations

import zmq

from sdbridge.commands.port_probe import check_ports_free
from sdbridge.config import ServerConfig, with_overrides
from tests.scaleout.helpers import free_port


def test_the_server_binds_right_after_the_probe() -> None:
    ctx = zmq.Context.instance()
    for _ in range(20):
        endpoint = f"tcp://127.0.0.1:{free_port()}"
        check_ports_free(with_overrides(ServerConfig(), top={"bind": endpoint}))
        sock = ctx.socket(zmq.ROUTER)
        try:
            sock.bind(endpoint)  # raises "Address already in use" while the probe's listener lingers
        finally:
            sock.close(linger=0)
