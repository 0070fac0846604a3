"""The preview page's style image upload: a page command turned into the StyleImage message (and its pixels) an
engine client would send, applied to the watched session through the same server path as the wire (the server's
control inbox hands it to the dispatcher, whose StyleImage handling calls the session pipeline's set_style_image).

    {"op": "style_image", "session": 3, "name": "forest", "image": "data:image/jpeg;base64,..."}

The page scales the picture down (longest side PAGE_SIDE pixels: the IP-Adapter's image encoder sees 224 x 224 anyway)
and sends it as a JPEG or PNG data URL within MAX_IMAGE_CHARS, under the preview websocket's message limit. Everything
is checked here first; each refusal names the field, the value, the limit and the fix.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

import numpy as np

from sdbridge.config import LimitsConfig
from sdbridge.errors import InputError
from sdbridge.protocol import messages as m

#: Longest side the page scales an uploaded picture to (app.js uses the same number).
PAGE_SIDE = 224
#: Largest data URL a page may send: under the preview websocket's 64 KiB message limit with the command around it.
MAX_IMAGE_CHARS = 60_000
_PREFIXES = ("data:image/jpeg;base64,", "data:image/png;base64,", "data:image/webp;base64,")


def style_image_command(request: dict[str, Any], limits: LimitsConfig | None = None) -> tuple[m.StyleImage, bytes]:
    """The StyleImage message and its RGB8 top-down pixels for a page's {"op": "style_image", ...} command."""
    limits = limits or LimitsConfig()
    name = request.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError("style_image.name must be a non-empty string: the style's name (style_blend weighs it by it)")
    if len(name) > limits.max_text_chars:
        raise InputError(f"style_image.name has {len(name)} characters, above limits.max_text_chars="
                         f"{limits.max_text_chars}")
    rgb = _decode(request.get("image"), limits)
    height, width = rgb.shape[:2]
    header = m.StyleImage(name=name.strip(), width=width, height=height, stride=width * 3,
                          format=m.PixelFormat.RGB8, row_order=m.RowOrder.TOP_DOWN)
    return header, rgb.tobytes()


def _decode(image: Any, limits: LimitsConfig) -> np.ndarray:
    """A data URL -> (H, W, 3) uint8 RGB, top row first, or InputError naming the problem."""
    from PIL import Image, UnidentifiedImageError

    if not isinstance(image, str) or not image.startswith(_PREFIXES):
        shown = repr(image[:40]) + "..." if isinstance(image, str) else type(image).__name__
        raise InputError(f"style_image.image={shown} must be a data URL of a JPEG, PNG or WebP picture "
                         "(data:image/jpeg;base64,...)")
    if len(image) > MAX_IMAGE_CHARS:
        raise InputError(f"style_image.image has {len(image)} characters, above the page's limit of {MAX_IMAGE_CHARS}; "
                         f"scale the picture down (the page sends at most {PAGE_SIDE} pixels on its longest side)")
    try:
        data = base64.b64decode(image.split(",", 1)[1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError(f"style_image.image is not valid base64 ({exc}); send the data URL the page made") from None
    side = min(limits.max_width, limits.max_height, 4 * PAGE_SIDE)
    try:
        with Image.open(io.BytesIO(data)) as picture:
            width, height = picture.size
            if max(width, height) <= side:
                return np.ascontiguousarray(np.asarray(picture.convert("RGB"), dtype=np.uint8))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"style_image.image is not a picture Pillow can read ({type(exc).__name__}); send a JPEG, "
                         "PNG or WebP") from None
    raise InputError(f"style_image.image is {width}x{height} pixels, above {side} on a side; scale it down (the page "
                     f"sends at most {PAGE_SIDE})")
