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
    ({"depth": np.ones((2, 2), np.float64)}, None, "float64 with 1 channel, which a depth plane"),
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


def test_a_game_s_next_frames_reuse_the_descriptions_but_never_the_arrays() -> None:
    first = {"depth": np.ones((4, 6), np.float16), "pose": np.zeros((4, 6, 4), np.uint8)}
    descs, _ = client_planes.frame_planes(first, None, WELCOME)
    nxt = {"depth": np.full((4, 6), 2.0, np.float16), "pose": np.ones((4, 6, 4), np.uint8)[:, ::-1]}  # strided
    again, new_arrays = client_planes.frame_planes(nxt, None, WELCOME)
    assert again is descs  # the same immutable tuple: the codec encodes its planes once too
    assert new_arrays[0] is nxt["depth"] and np.array_equal(new_arrays[1], nxt["pose"])
    assert all(a.flags.c_contiguous for a in new_arrays)
    for changed in ({"depth": np.ones((4, 7), np.float16), "pose": first["pose"]},  # another size
                    {"depth": np.ones((4, 6), np.float32), "pose": first["pose"]},  # another format
                    {"pose": first["pose"], "depth": first["depth"]},  # another order
                    {"depth": first["depth"], "lineart": first["pose"]}):  # another name
        fresh, _ = client_planes.frame_planes(changed, None, WELCOME)
        assert fresh == tuple(client_planes.describe(k, a, None)[0] for k, a in changed.items())
    info = {"depth": {"depth_encoding": "device", "depth_near": 0.5}}
    given, _ = client_planes.frame_planes(first, info, WELCOME)  # plane_info: described from it every time
    assert given[0].depth_encoding is m.DepthEncoding.DEVICE and given[0].depth_near == 0.5
    plain, _ = client_planes.frame_planes(first, None, WELCOME)
    assert plain[0].depth_encoding is m.DepthEncoding.LINEAR and plain[0].depth_near == 0.0
