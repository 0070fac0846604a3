"""The server's ZeroMQ `bind` endpoint, checked when the config is validated (before the model loads).

libzmq accepts a TCP port above 65535 and binds it modulo 65536 (`tcp://127.0.0.1:99999` served on port 34463), and
refuses an endpoint without a port only once the model has loaded, as "Invalid argument".
"""

from __future__ import annotations

SCHEMES = ("tcp://", "ipc://", "inproc://")
MAX_PORT = 65535  # the largest TCP port: every port option and key is checked against it
EXAMPLE = "tcp://127.0.0.1:5555"


def tcp_host_port(bind: str) -> tuple[str, str] | None:
    """(HOST, PORT text) of a `tcp://HOST:PORT` bind, None when `bind` is not tcp or has no HOST:PORT: the one
    parser of the bind's port, shared by `bind_problem` and the port probe (sdbridge.commands.port_probe)."""
    if not bind.startswith("tcp://"):
        return None
    host, colon, port = bind.removeprefix("tcp://").rpartition(":")
    return (host, port) if colon and host else None


def any_free_port(port: str) -> bool:
    """Whether a bind's PORT text asks for any free port (* or 0, however many zeros)."""
    return port == "*" or (port.isdigit() and int(port) == 0)


def bind_problem(bind: str) -> str | None:
    """What is wrong with `bind` (a message naming the value, the limit and the fix), or None when it is usable."""
    if not bind.startswith(SCHEMES):
        return f"bind={bind!r} must start with {', '.join(SCHEMES[:-1])} or {SCHEMES[-1]}, e.g. {EXAMPLE}"
    if not bind.startswith("tcp://"):
        return None
    parts = tcp_host_port(bind)
    if parts is None:
        return f"bind={bind!r} has no port; write tcp://HOST:PORT, e.g. {EXAMPLE} (PORT * or 0: any free port)"
    port = parts[1]
    if port == "*":
        return None
    if not port.isdigit() or not 0 <= int(port) <= MAX_PORT:
        return (f"bind={bind!r}: port {port!r} must be an integer in [0, {MAX_PORT}] (* or 0: any free port), "
                f"e.g. {EXAMPLE}")
    return None
