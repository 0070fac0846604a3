"""Commands from the preview page (any thread), applied on the I/O thread as if the session's client had sent
them, through the same checks; the client is told with a Notice naming who changed what."""

from __future__ import annotations

import concurrent.futures
import logging
from collections import deque

from sdbridge.errors import BridgeError, ProtocolError
from sdbridge.protocol import messages as m
from sdbridge.runtime.sessions import SessionTable
from sdbridge.serving.dispatcher import Dispatcher
from sdbridge.serving.outbound import Outbound

log = logging.getLogger(__name__)


class ControlInbox:
    """Page commands waiting for the I/O thread. `submit` is thread-safe (deque append); `run` is I/O-only."""

    def __init__(self, table: SessionTable, dispatcher: Dispatcher, outbound: Outbound) -> None:
        self.table = table
        self.dispatcher = dispatcher
        self.outbound = outbound
        self._waiting: deque[tuple[int, m.Message, str, bytes | None, concurrent.futures.Future[None]]] = deque()

    def __bool__(self) -> bool:
        return bool(self._waiting)

    def submit(self, session_id: int, message: m.Message, source: str,
               pixels: bytes | None = None) -> concurrent.futures.Future[None]:
        """Queue a Prompt, Params or GameEvent (or a StyleImage with its `pixels`, the wire's second part) for a
        session; the future fails with the client's error."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._waiting.append((session_id, message, source, pixels, future))
        return future

    def run(self) -> None:
        """Apply the waiting page commands (I/O thread). A refused command fails its future (the page shows the
        error); an unexpected exception is also logged once. Nothing here stops the I/O loop."""
        while self._waiting:
            session_id, message, source, pixels, future = self._waiting.popleft()
            if not future.set_running_or_notify_cancel():
                continue  # the page stopped waiting for it: not applied
            try:
                self.apply(session_id, message, source, pixels)
            except Exception as exc:
                if not isinstance(exc, BridgeError):
                    self.outbound.stats.internal_errors += 1
                    log.error("internal error while applying a %s from %s to session %d", type(message).__name__,
                              source, session_id, exc_info=exc)
                future.set_exception(exc)
            else:
                future.set_result(None)

    def apply(self, session_id: int, message: m.Message, source: str, pixels: bytes | None = None) -> None:
        """Apply one command to a live session and tell its client with a Notice."""
        session = next((s for s in self.table.sessions() if s.session_id == session_id), None)
        if session is None:
            raise ProtocolError(m.ErrorCode.BAD_PARAM, f"no live session {session_id}")
        if not isinstance(message, m.Prompt | m.Params | m.GameEvent | m.StyleImage):
            raise ProtocolError(m.ErrorCode.UNKNOWN_TYPE,
                                f"{type(message).__name__} cannot be sent on behalf of a session")
        if isinstance(message, m.StyleImage) and (pixels is None or len(pixels) != message.nbytes):
            raise ProtocolError(m.ErrorCode.BAD_PIXEL_SIZE, f"StyleImage {message.name!r} from {source}: "
                                f"{0 if pixels is None else len(pixels)} pixel bytes, the header says {message.nbytes}")
        view = memoryview(pixels) if pixels is not None else None
        self.dispatcher.dispatch(session.identity, session, message, view, [])
        if isinstance(message, m.Prompt):
            notice = m.Notice(kind=m.NoticeKind.PROMPT_CHANGED, source=source, prompt=message,
                              message=f"prompt changed by {source}")
        elif isinstance(message, m.Params):
            notice = m.Notice(kind=m.NoticeKind.PARAMS_CHANGED, source=source, params=message,
                              message=f"parameters changed by {source}")
        elif isinstance(message, m.StyleImage):
            notice = m.Notice(kind=m.NoticeKind.INFO, source=source,
                              message=f"style image {message.name!r} ({message.width}x{message.height}) set by "
                                      f"{source}")
        else:
            notice = m.Notice(kind=m.NoticeKind.INFO, source=source,
                              message=f"game event {message.name!r} injected by {source}")
        self.outbound.send(session.identity, notice)  # (never raises: values were checked on entry, encode is guarded)
