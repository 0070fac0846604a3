"""Malformed HTTP gets "400 Bad Request" from the preview, never a silent close, a 431/414 or a 500.

websockets answers a request whose line or headers it cannot parse by closing the connection without a
response, and answers oversized headers with 431. `StrictHttpConnection` (passed to `serve` as
`create_connection`) gives each connection a `ServerProtocol` whose request parser answers every one of
those with a 400 naming the problem. It overrides `ServerProtocol.parse`, an internal of websockets'
Sans-I/O layer (tested with websockets 17.4: tests/preview/test_preview_limits.py sends each kind of bad
request); the header size limits stay websockets' own (8 KiB per line, 128 headers).
"""

from __future__ import annotations

import http
from collections.abc import Generator
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import InvalidMessage
from websockets.http11 import Request
from websockets.protocol import CONNECTING, Protocol
from websockets.server import ServerProtocol


class _StrictHttpProtocol(ServerProtocol):
    """ServerProtocol whose unparsable requests get a 400 response."""

    def parse(self) -> Generator[None]:
        if self.state is CONNECTING:
            try:
                request = yield from Request.parse(self.reader.read_line)
            except EOFError as exc:  # the client closed before a whole request: nobody to answer
                self.handshake_exc = InvalidMessage("connection closed while reading the HTTP request")
                self.handshake_exc.__cause__ = exc
                self.send_eof()
                self.parser = self.discard()
                next(self.parser)  # start the discarding coroutine
                yield
            except Exception as exc:  # bad request line, header too long, too many headers, bad header
                self.handshake_exc = InvalidMessage(f"bad HTTP request: {exc}")
                self.handshake_exc.__cause__ = exc
                self.send_response(self.reject(http.HTTPStatus.BAD_REQUEST,
                                               f"bad request: {exc}; the preview serves HTTP/1.1 GET requests\n"))
                yield
            self.events.append(request)
        yield from Protocol.parse(self)


class StrictHttpConnection(ServerConnection):
    """The preview's websocket connection: the same as websockets', with `_StrictHttpProtocol`."""

    def __init__(self, protocol: ServerProtocol, *args: Any, **kwargs: Any) -> None:
        """Replace the protocol websockets built by one with the same settings and the strict parser."""
        max_size = getattr(protocol, "max_message_size", None) or getattr(protocol, "max_size", None)
        strict = _StrictHttpProtocol(max_size=max_size, logger=protocol.logger)
        super().__init__(strict, *args, **kwargs)
