"""Who may open the preview page and what it may see: the server-wide token and per-session tokens.

The server-wide token (configured, or generated when the page is bound beyond loopback) opens the page for
every session; it is printed by `sdbridge serve` and never sent to engine clients. Each engine client is
told the address of its own session only: that address carries a session token, an HMAC of the session id
under a key drawn at random when the preview starts, so it opens the page for that one session (watching,
charts and commands) and cannot be turned into another session's token. Session ids are never reused within
a server process, and tokens do not survive a restart.

Without a server-wide token (loopback only, by configuration) a page without any token sees every session,
as before; a session token still limits its page to that session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

_SESSION_TOKEN = re.compile(r"s([0-9]{1,12})\.([A-Za-z0-9_-]{22})")


@dataclass(frozen=True)
class Grant:
    """What one page may do: every session (`session` None) or one session."""

    session: int | None = None

    def allows(self, session_id: int | None) -> bool:
        """True when this page may watch or steer `session_id` (None: watch nothing, always allowed)."""
        return self.session is None or session_id is None or session_id == self.session


class PageAccess:
    """Checks the `token` a page presents; issues per-session tokens."""

    def __init__(self, token: str) -> None:
        """`token`: the server-wide token ("" when the page is served on loopback without one)."""
        self.token = token
        self._key = secrets.token_bytes(32)

    def session_token(self, session_id: int) -> str:
        """The token that opens the page for `session_id` only: "s<id>.<22 characters of HMAC-SHA256>"."""
        return f"s{session_id}.{self._mac(session_id)}"

    def _mac(self, session_id: int) -> str:
        digest = hmac.new(self._key, f"sdbridge-preview-session:{session_id}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:22]

    def grant(self, given: str | None) -> Grant | None:
        """What a page presenting `given` (None or "": no token) may do; None when it is refused."""
        if not given:
            return None if self.token else Grant()
        if self.token and hmac.compare_digest(given.encode(), self.token.encode()):
            return Grant()
        match = _SESSION_TOKEN.fullmatch(given)
        if match is None:
            return None
        session_id = int(match.group(1))
        if not hmac.compare_digest(match.group(2).encode(), self._mac(session_id).encode()):
            return None
        return Grant(session_id)
