"""The preview page address is the typed Notice.preview_url (protocol 1.1); a 1.0 server's text is the fallback."""

from __future__ import annotations

from sdbridge.protocol import messages as m
from sdbridge.protocol.codec import decode, encode
from sdbridge.transport.client import preview_address

URL = "http://127.0.0.1:8765/?token=t&session=3"


def test_the_typed_field_wins_and_survives_the_wire() -> None:
    notice = decode(encode(m.Notice(m.NoticeKind.INFO, f"preview page: {URL}", "preview", preview_url=URL)))
    assert isinstance(notice, m.Notice) and notice.preview_url == URL
    assert preview_address(notice) == URL


def test_a_protocol_1_0_server_text_is_the_fallback() -> None:
    assert preview_address(m.Notice(m.NoticeKind.INFO, URL, "preview")) == URL
    assert preview_address(m.Notice(m.NoticeKind.INFO, f"preview page: {URL}", "preview")) == ""


def test_only_the_preview_pages_info_notices_carry_it() -> None:
    assert preview_address(m.Notice(m.NoticeKind.INFO, URL, "rules", preview_url=URL)) == ""
    assert preview_address(m.Notice(m.NoticeKind.PROMPT_CHANGED, URL, "preview", preview_url=URL)) == ""
