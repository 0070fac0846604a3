"""sdbridge.transport.client_planes: what BridgeClient.submit(planes=..., plane_info=...) turns arrays into."""

from __future__ import annotations

import numpy as np
import pytest

from sdbridge.errors import InputError
from sdbridge.protocol import messages as m
from sdbridge.transport import client_planes

WELCOME = m.Welcome(session_id=1, protocol_major=1, protocol_minor=3, capabilities=m.Capability.PLANES)


def test_formats_come_from_the_arrays_and_kinds_from_the_keys() -> None:
    planes = {"depth": np.ones((2, 3), np.float32), "normals": np.zeros((2, 3, 4), np.uint8),
              "segmentation": np.zeros((2, 3), np.uint32), "motion": np.zeros((2, 3, 2), np.float16),
              "pose": np.zeros((2, 3, 4), np.uint8)}
    descs, arrays = client_planes.frame_planes(planes, None, WELCOME)
    assert [(d.kind, d.format) for d in descs] == [
        (m.PlaneKind.DEPTH, m.PlaneFormat.R32_F), (m.PlaneKind.NORMALS, m.PlaneFormat.RGBA8),
        (m.PlaneKind.SEGMENTATION, m.PlaneFormat.R32_UI), (m.PlaneKind.MOTION, m.PlaneFormat.RG16_F),
        (m.PlaneKind.CONTROL, m.PlaneFormat.RGBA8)]
    assert [d.stride for d in descs] == [12, 12, 12, 12, 12] and descs[4].name == "pose" and descs[0].name == ""
    assert descs[1].normal_encoding is m.NormalEncoding.UNSIGNED  # bytes hold n * 0.5 + 0.5
    assert descs[3].motion_units is m.MotionUnits.PIXELS and descs[3].motion_target is m.MotionTarget.PREVIOUS
    assert all(a.flags.c_contiguous for a in arrays)


def test_plane_info_sets_fields_by_name_and_enum_names() -> None:
    (desc,), _ = client_planes.frame_planes(
        {"depth": np.ones((4, 4), np.float16)},
        {"depth": {"depth_encoding": "Device", "reversed_z": True, "depth_near": 0.1, "row_order": "bottom_up"}},
        WELCOME)
    assert desc.depth_encoding is m.DepthEncoding.DEVICE and desc.reversed_z and desc.depth_near == 0.1
    assert desc.row_order is m.RowOrder.BOTTOM_UP and desc.format is m.PlaneFormat.R16_F


@pytest.mark.parametrize(("planes", "info", "words"), [
    ({"depth": np.ones((2, 2), np.float64)}, None, "float64 with 1 channels"),
    ({"depth": np.ones(4, np.float32)}, None, "(H, W) or (H, W, C)"),
    ({"depth": np.ones((2, 2), np.float32)}, {"depth": {"width": 3}}, "'width', which is not a plane field"),
    ({"depth": np.ones((2, 2), np.float32)}, {"depth": {"depth_encoding": "log"}}, "not one of linear, device"),
    ({"depth": np.ones((2, 2), np.float32)}, {"normals": {}}, "['normals'], which are not among the planes"),
    ({}, {"depth": {}}, "no planes were given"),
])
def test_what_does_not_fit_is_refused_before_sending(planes: dict, info: dict | None, words: str) -> None:
    with pytest.raises(InputError) as exc:
        client_planes.frame_planes(planes, info, WELCOME)
    assert words in str(exc.value), str(exc.value)


def test_a_server_without_the_planes_capability_gets_none() -> None:
    old_server = m.Welcome(session_id=1, protocol_major=1, protocol_minor=2)
    assert client_planes.frame_planes(None, None, old_server) == ((), ())
    with pytest.raises(InputError, match="did not grant the Planes capability"):
        client_planes.frame_planes({"depth": np.ones((2, 2), np.float32)}, None, old_server)
