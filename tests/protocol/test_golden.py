"""The Python codec encodes the golden messages to exactly flatc's bytes and decodes them back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdbridge.protocol.codec import (
    decode,
    decode_multipart,
    encode,
    encode_frame,
    encode_style_image,
    expected_pixel_bytes,
    plane_parts,
)
from sdbridge.protocol.messages import MESSAGE_TYPES, FrameHeader, PixelFormat, PlaneKind, ResultHeader, StyleImage

from .golden_messages import GOLDEN

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "schemas" / "golden"
NAMES = sorted(GOLDEN)


def _pattern(size: int) -> bytes:
    return bytes((k * 37 + 11) & 0xFF for k in range(size))


def test_every_json_source_has_a_python_twin() -> None:
    sources = sorted(p.stem for p in GOLDEN_DIR.glob("*.json"))
    assert sources == NAMES


def test_every_message_type_and_pixel_format_has_a_golden() -> None:
    assert {type(m) for m in GOLDEN.values()} == set(MESSAGE_TYPES)
    frame_formats = {m.pixel_format for m in GOLDEN.values() if isinstance(m, FrameHeader)}
    assert frame_formats == {PixelFormat.RGBA8, PixelFormat.BGRA8, PixelFormat.RGB8}
    plane_kinds = {p.kind for m in GOLDEN.values() if isinstance(m, FrameHeader) for p in m.planes}
    assert plane_kinds == set(PlaneKind) - {PlaneKind.UNKNOWN}  # protocol 1.3: a golden per plane kind


@pytest.mark.parametrize("name", NAMES)
def test_encode_matches_golden_bytes(name: str) -> None:
    golden = (GOLDEN_DIR / f"{name}.bin").read_bytes()
    encoded = encode(GOLDEN[name])
    assert encoded == golden, f"{name}: python bytes differ from flatc's (first diff at " \
        f"{next((i for i, (a, b) in enumerate(zip(encoded, golden, strict=False)) if a != b), None)})"


@pytest.mark.parametrize("name", NAMES)
def test_decode_golden_gives_the_values(name: str) -> None:
    assert decode((GOLDEN_DIR / f"{name}.bin").read_bytes()) == GOLDEN[name]


@pytest.mark.parametrize("name", [n for n in NAMES if isinstance(GOLDEN[n], FrameHeader | ResultHeader)])
def test_pixel_goldens_round_trip_as_multipart(name: str) -> None:
    header = GOLDEN[name]
    assert isinstance(header, FrameHeader | ResultHeader)
    pixels = (GOLDEN_DIR / f"{name}.pixels.bin").read_bytes()
    assert pixels == _pattern(expected_pixel_bytes(header))
    planes = [(GOLDEN_DIR / f"{name}.plane{i}.bin").read_bytes()
              for i in range(len(header.planes) if isinstance(header, FrameHeader) else 0)]
    assert planes == [_pattern(p.nbytes) for p in getattr(header, "planes", ())]
    parts = encode_frame(header, pixels, planes)
    assert bytes(parts[0]) == (GOLDEN_DIR / f"{name}.bin").read_bytes()
    assert len(parts) == 2 + len(planes)
    wire = [bytes(p) for p in parts]
    msg, view = decode_multipart(wire)
    assert msg == header
    assert view is not None and bytes(view) == pixels
    assert [bytes(v) for v in plane_parts(wire)] == planes


def test_style_image_golden_round_trips_as_multipart() -> None:
    """protocol 1.4: a StyleImage is [header, pixels] like a Frame; the pixel golden is the same pattern."""
    header = GOLDEN["style_image"]
    assert isinstance(header, StyleImage)
    pixels = (GOLDEN_DIR / "style_image.pixels.bin").read_bytes()
    assert pixels == _pattern(header.nbytes)
    parts = encode_style_image(header, pixels)
    assert [bytes(p) for p in parts] == [(GOLDEN_DIR / "style_image.bin").read_bytes(), pixels]
    msg, view = decode_multipart([bytes(p) for p in parts])
    assert msg == header and view is not None and bytes(view) == pixels


def test_json_sources_name_the_body_type_first() -> None:
    # flatc needs body_type before body to parse the union in one pass; keep the sources that way.
    for path in GOLDEN_DIR.glob("*.json"):
        keys = list(json.loads(path.read_text(encoding="utf-8")))
        assert keys == ["body_type", "body"], path.name
