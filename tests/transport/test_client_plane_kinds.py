"""BridgeClient.submit(planes=...) refuses, before sending, a plane the server would refuse for its kind: a
one-channel motion plane, two-channel normals, float segmentation ids, device depth without its near plane (each was
sent and came back as an Error from the server), and says which arrays fit; a key such as 'Depth' is a Control plane
and the refusal asks whether 'depth' was meant."""

from __future__ import annotations

import numpy as np
import pytest

from sdbridge.errors import InputError
from sdbridge.protocol import messages as m
from sdbridge.runtime.planes import FORMATS, KIND_FORMATS
from sdbridge.transport import client_planes

WELCOME = m.Welcome(session_id=1, protocol_major=1, protocol_minor=3, capabilities=m.Capability.PLANES)


@pytest.mark.parametrize(("key", "array", "info", "words"), [
    ("motion", np.zeros((4, 4), np.float32), None,
     ["planes['motion'] is float32 with 1 channel", "send float16 (H, W, 2) or float32 (H, W, 2)"]),
    ("normals", np.zeros((4, 4, 2), np.float32), None, ["normals plane", "float16 (H, W, 4) or uint8 (H, W, 4)"]),
    ("segmentation", np.zeros((4, 4), np.float32), None, ["uint16 (H, W) or uint32 (H, W) or uint8 (H, W)"]),
    ("depth", np.zeros((4, 4), np.float64), None, ["planes={'depth': array.astype(np.float32)}"]),
    ("Depth", np.zeros((4, 4), np.float32), None, ["a Control plane named 'Depth'", "did you mean 'depth'?"]),
    ("depth", np.zeros((4, 4), np.float32), {"depth_encoding": "device"},
     ["planes['depth'].depth_near=0.0", "Device depth needs the projection's near plane",
      "plane_info={'depth': {...}}"]),
    ("normals", np.zeros((4, 4, 4), np.uint8), {"normal_encoding": "signed"},
     ["RGBA8 bytes hold only Unsigned normals"]),
])
def test_a_plane_the_server_would_refuse_is_refused_before_sending(key: str, array: np.ndarray, info: dict | None,
                                                                   words: list[str]) -> None:
    with pytest.raises(InputError) as caught:
        client_planes.frame_planes({key: array}, {key: info} if info else None, WELCOME)
    for word in words:
        assert word in str(caught.value), str(caught.value)


@pytest.mark.parametrize("kind", [k for k in m.PlaneKind if k])
def test_every_format_the_server_takes_for_a_kind_is_sent(kind: m.PlaneKind) -> None:
    key = kind.name.lower() if kind is not m.PlaneKind.CONTROL else "pose"
    for fmt in KIND_FORMATS[kind]:
        layout = FORMATS[fmt]
        shape = (4, 4) if layout.channels == 1 else (4, 4, layout.channels)
        info = {"depth_near": 0.1} if kind is m.PlaneKind.DEPTH else None
        (desc,), _ = client_planes.frame_planes({key: np.zeros(shape, layout.dtype)}, {key: info} if info else None,
                                                WELCOME)
        assert (desc.kind, desc.format) == (kind, fmt)
