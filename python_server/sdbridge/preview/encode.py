"""JPEG encoding of kept preview frames (runs on the preview thread, never on the I/O thread)."""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image

from sdbridge.preview.taps import TapFrame
from sdbridge.runtime.pixels import pixel_view

#: Binary websocket message: magic, view (1 input, 2 output, 3 control), session id, frame id, then the JPEG; a
#: control image has its ControlNet KIND (one length byte, UTF-8) between the header and the JPEG.
IMAGE_HEADER = struct.Struct(">4sBIQ")
IMAGE_MAGIC = b"SDPV"
VIEW_CODES = {"input": 1, "output": 2, "control": 3}


def _buffer_of(pixels: object) -> memoryview:
    if isinstance(pixels, np.ndarray):
        return memoryview(np.ascontiguousarray(pixels).reshape(-1))
    buffer = getattr(pixels, "buffer", None)  # a zmq.Frame
    return memoryview(buffer if buffer is not None else pixels).cast("B")  # type: ignore[arg-type]


def to_rgb(frame: TapFrame, max_side: int = 0) -> np.ndarray:
    """The kept frame as an (H, W, 3) uint8 RGB top-down array.

    With `max_side`, every n-th row and column is taken (n the smallest integer that brings the longer side
    to at most `max_side`): a strided copy, several times cheaper than resampling, fine for a preview.
    """
    view = pixel_view(_buffer_of(frame.pixels), frame.layout)  # strided view, no copy yet
    if max_side > 0:
        step = -(-max(view.shape[0], view.shape[1]) // max_side)  # ceil
        if step > 1:
            view = view[::step, ::step]
    return np.ascontiguousarray(view)


def jpeg_of(rgb: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of an (H, W, 3) uint8 image."""
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def to_jpeg(frame: TapFrame, quality: int, max_side: int) -> bytes:
    """JPEG bytes of the kept frame, subsampled so its longer side is at most `max_side`."""
    return jpeg_of(to_rgb(frame, max_side), quality)


def image_message(frame: TapFrame, view: str, jpeg: bytes) -> bytes:
    """The binary websocket message carrying one preview image."""
    return IMAGE_HEADER.pack(IMAGE_MAGIC, VIEW_CODES[view], frame.session_id, frame.frame_id) + jpeg


def control_message(frame: TapFrame, kind: str, jpeg: bytes) -> bytes:
    """The binary websocket message carrying the conditioning image of ControlNet `kind` for an input frame."""
    name = kind.encode()[:255]
    return (IMAGE_HEADER.pack(IMAGE_MAGIC, VIEW_CODES["control"], frame.session_id, frame.frame_id)
            + bytes([len(name)]) + name + jpeg)
