"""The preview page's style image upload (sdbridge.preview.style_upload): a page command becomes the StyleImage and
pixels an engine client would send, refused with a clear message when too large or not a picture; the server's
control inbox hands it to the dispatcher like a wire StyleImage (pixels as the message's second part)."""

from __future__ import annotations

import base64
import io
import types

import numpy as np
import pytest

from sdbridge.config import LimitsConfig
from sdbridge.errors import InputError, ProtocolError
from sdbridge.preview.style_upload import MAX_IMAGE_CHARS, PAGE_SIDE, style_image_command
from sdbridge.protocol import messages as m
from sdbridge.serving.controls import ControlInbox


def _data_url(pixels: np.ndarray, kind: str = "PNG") -> str:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format=kind)
    return f"data:image/{kind.lower()};base64," + base64.b64encode(out.getvalue()).decode()


def _picture(width: int, height: int) -> np.ndarray:
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[0, :, 0] = 255  # the top row red: the rows stay top first
    rgb[1:, :, 2] = 90
    return rgb


def test_a_picture_becomes_a_style_image_and_its_rgb_pixels():
    picture = _picture(40, 30)
    header, pixels = style_image_command({"op": "style_image", "name": " forest ", "image": _data_url(picture)})
    assert header == m.StyleImage(name="forest", width=40, height=30, stride=120, format=m.PixelFormat.RGB8,
                                  row_order=m.RowOrder.TOP_DOWN)
    assert len(pixels) == header.nbytes
    assert np.array_equal(np.frombuffer(pixels, dtype=np.uint8).reshape(30, 40, 3), picture)  # PNG: exact
    jpeg, _ = style_image_command({"name": "j", "image": _data_url(picture, "JPEG")})
    assert (jpeg.width, jpeg.height) == (40, 30)


@pytest.mark.parametrize(("request_", "message"), [
    ({"name": "", "image": "data:image/png;base64,AA=="}, r"style_image\.name must be a non-empty string"),
    ({"name": "x" * 5000, "image": "data:image/png;base64,AA=="}, r"above limits\.max_text_chars=4096"),
    ({"name": "a", "image": "http://example.com/a.png"}, r"must be a data URL of a JPEG, PNG or WebP picture"),
    ({"name": "a", "image": 7}, r"style_image\.image=int must be a data URL"),
    ({"name": "a", "image": "data:image/png;base64," + "A" * MAX_IMAGE_CHARS},
     rf"has {MAX_IMAGE_CHARS + 22} characters, above the page's limit of {MAX_IMAGE_CHARS}; scale the picture down"),
    ({"name": "a", "image": "data:image/png;base64,@@@"}, r"style_image\.image is not valid base64"),
    ({"name": "a", "image": "data:image/png;base64," + base64.b64encode(b"not a picture").decode()},
     r"not a picture Pillow can read \(UnidentifiedImageError\); send a JPEG, PNG or WebP"),
])
def test_bad_uploads_are_refused_with_a_clear_message(request_, message):
    with pytest.raises(InputError, match=message):
        style_image_command(request_)


def test_a_picture_larger_than_the_limit_is_refused():
    side = 4 * PAGE_SIDE
    wide = np.zeros((1, side + 1, 3), dtype=np.uint8)
    with pytest.raises(InputError, match=rf"is {side + 1}x1 pixels, above {side} on a side; scale it down"):
        style_image_command({"name": "a", "image": _data_url(wide)})
    small = LimitsConfig(max_width=16, max_height=16)
    with pytest.raises(InputError, match=r"is 40x30 pixels, above 16 on a side"):
        style_image_command({"name": "a", "image": _data_url(_picture(40, 30))}, small)


class _Dispatcher:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def dispatch(self, identity, session, message, pixels, parts) -> None:
        self.calls.append((identity, session.session_id, message, None if pixels is None else bytes(pixels), parts))


class _Outbound:
    def __init__(self) -> None:
        self.sent: list[tuple] = []
        self.stats = types.SimpleNamespace(internal_errors=0)

    def send(self, identity, message, payload=None) -> bool:
        self.sent.append((identity, message))
        return True


def test_the_server_hands_it_to_the_dispatcher_like_a_wire_style_image():
    session = types.SimpleNamespace(session_id=5, identity=b"engine")
    table = types.SimpleNamespace(sessions=lambda: [session])
    dispatcher, outbound = _Dispatcher(), _Outbound()
    inbox = ControlInbox(table, dispatcher, outbound)  # type: ignore[arg-type]
    header, pixels = style_image_command({"name": "forest", "image": _data_url(_picture(8, 4))})
    done = inbox.submit(5, header, "preview", pixels)
    inbox.run()
    assert done.result(timeout=0) is None
    assert dispatcher.calls == [(b"engine", 5, header, pixels, [])]
    (identity, notice), = outbound.sent
    assert identity == b"engine" and notice.message == "style image 'forest' (8x4) set by preview"
    short = inbox.submit(5, header, "preview", pixels[:-3])  # able to fail: a short pixel part is refused
    inbox.run()
    with pytest.raises(ProtocolError, match=r"StyleImage 'forest' from preview: 93 pixel bytes, the header says 96"):
        short.result(timeout=0)
    assert len(dispatcher.calls) == 1
