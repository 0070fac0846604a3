"""A frame's planes -> its ControlNet images (sdbridge.runtime.control_inputs), on a pipeline that keeps what it is
given: each plane kind's conversion, the Canny fallback, the one-time warning for a missing plane, the recording
hook, the segmentation map and the Welcome's note."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from sdbridge.config import parse_config
from sdbridge.errors import ConfigError
from sdbridge.pipeline import ade20k
from sdbridge.pipeline.control_planes import canny_control, depth_control
from sdbridge.protocol import messages as m
from sdbridge.runtime.control_inputs import ControlPlanes, wanted_planes
from sdbridge.runtime.planes import Plane

H, W = 6, 8


class KeepingPipeline:
    """Has ControlNets `kinds`; keeps every set_image call (and every recorded planes tuple)."""

    def __init__(self, *kinds: str, recording: bool = False) -> None:
        self.set: list[tuple[str, Any]] = []
        self.recorded: list[tuple[Plane, ...]] = []
        self.components = SimpleNamespace(device=torch.device("cpu"))
        self.control = SimpleNamespace(nets=SimpleNamespace(names=kinds),
                                       set_image=lambda name, image: self.set.append((name, image)))
        if recording:
            self.record_planes = self.recorded.append


def _plane(kind: m.PlaneKind, fmt: m.PlaneFormat, array: np.ndarray, **desc: Any) -> Plane:
    return Plane(m.PlaneDesc(kind, fmt, array.shape[1], array.shape[0], array.strides[0], **desc), array)


def _depth(array: np.ndarray, **desc: Any) -> Plane:
    return _plane(m.PlaneKind.DEPTH, m.PlaneFormat.R32_F, array,
                  **{"depth_encoding": m.DepthEncoding.LINEAR, **desc})


RAMP = np.tile(np.linspace(1.0, 9.0, W, dtype=np.float32), (H, 1))
RGB = np.zeros((H, W, 3), np.uint8)


def test_a_depth_plane_becomes_inverse_depth_near_bright() -> None:
    pipe = KeepingPipeline("depth")
    ControlPlanes().apply(1, pipe, [_depth(RAMP)], RGB)
    ((name, image),) = pipe.set
    assert name == "depth" and image.shape == (1, 3, H, W)
    torch.testing.assert_close(image, depth_control(torch.from_numpy(RAMP)))
    assert image[0, 0, 0, 0] == 1.0 and image[0, 0, 0, -1] == 0.0  # nearest bright, farthest dark


def test_device_depth_reads_its_projection() -> None:
    device = np.tile(np.linspace(0.0, 1.0, W, dtype=np.float32), (H, 1))
    pipe = KeepingPipeline("depth")
    ControlPlanes().apply(1, pipe, [_depth(device, depth_encoding=m.DepthEncoding.DEVICE, reversed_z=True,
                                           depth_near=0.1, depth_far=100.0)], RGB)
    want = depth_control(torch.from_numpy(device), source="device", near=0.1, far=100.0, reversed_z=True)
    torch.testing.assert_close(pipe.set[0][1], want)
    assert pipe.set[0][1][0, 0, 0, -1] == 1.0  # reversed-Z: 1 is near


def test_view_normals_in_bytes_become_normalbae_colours() -> None:
    facing = np.zeros((H, W, 4), np.uint8)
    facing[...] = (128, 128, 255, 255)  # (0, 0, 1) unsigned: facing the camera
    pipe = KeepingPipeline("normal")
    ControlPlanes().apply(1, pipe, [_plane(m.PlaneKind.NORMALS, m.PlaneFormat.RGBA8, facing,
                                           normal_space=m.NormalSpace.VIEW,
                                           normal_encoding=m.NormalEncoding.UNSIGNED)], RGB)
    torch.testing.assert_close(pipe.set[0][1][0, :, 0, 0], torch.tensor([0.5, 0.5, 1.0]), atol=5e-3, rtol=0)


def test_segmentation_ids_take_the_configured_ade20k_colours() -> None:
    ids = np.zeros((H, W), np.uint16)
    ids[:, W // 2:] = 7
    pipe = KeepingPipeline("seg")
    ControlPlanes({7: "person"}).apply(1, pipe, [_plane(m.PlaneKind.SEGMENTATION, m.PlaneFormat.R16_UI, ids)], RGB)
    image = pipe.set[0][1]
    person = torch.tensor(ade20k.PALETTE[ade20k.INDEX["person"]], dtype=torch.float32) / 255.0
    torch.testing.assert_close(image[0, :, 0, -1], person)
    assert image[0, :, 0, 0].eq(0).all()  # id 0 is not mapped: black


def test_an_unknown_ade20k_class_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="not an ADE20K class"):
        ControlPlanes({3: "spaceship"})


def test_a_control_plane_is_matched_by_name() -> None:
    pose = np.full((H, W, 4), 255, np.uint8)
    pipe = KeepingPipeline("pose")
    other = _plane(m.PlaneKind.CONTROL, m.PlaneFormat.R8, np.zeros((H, W), np.uint8), name="scribble")
    ControlPlanes().apply(1, pipe, [other, _plane(m.PlaneKind.CONTROL, m.PlaneFormat.RGBA8, pose, name="pose")], RGB)
    ((name, image),) = pipe.set
    assert name == "pose" and image.shape == (1, 3, H, W) and image.eq(1.0).all()


def test_canny_kinds_without_a_plane_get_the_frames_edges() -> None:
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[:, 16:] = 255
    pipe = KeepingPipeline("canny")
    ControlPlanes().apply(1, pipe, [], rgb)
    ((name, image),) = pipe.set
    assert name == "canny"
    torch.testing.assert_close(image, canny_control(torch.from_numpy(rgb)))
    assert image.max() == 1.0  # the edge was found


def test_a_missing_plane_is_told_once_per_session_and_kind() -> None:
    told: list[str] = []
    controls = ControlPlanes(warn=told.append)
    pipe = KeepingPipeline("depth", "normal")
    world = _plane(m.PlaneKind.NORMALS, m.PlaneFormat.RGBA16_F, np.zeros((H, W, 4), np.float16),
                   normal_space=m.NormalSpace.WORLD, normal_encoding=m.NormalEncoding.SIGNED)
    for _ in range(3):
        controls.apply(1, pipe, [world], RGB)
    controls.apply(2, pipe, [], RGB)
    assert pipe.set == []  # nothing set without a usable plane
    assert len(told) == 4, told  # session 1: depth, normal; session 2: depth, normal
    assert "no Depth plane" in told[0] and "World space" in told[1]
    controls.forget({2})
    controls.apply(1, pipe, [], RGB)
    assert len(told) == 6  # a forgotten session is told again


def test_a_recorded_pipeline_keeps_the_planes_it_was_given() -> None:
    pipe = KeepingPipeline("depth", recording=True)
    plane = _depth(RAMP)
    ControlPlanes().apply(1, pipe, [plane], RGB)
    ControlPlanes().apply(1, pipe, [], RGB)
    assert pipe.recorded == [[plane]]  # a frame without planes records nothing


def test_only_a_frame_that_sets_or_records_needs_the_pipeline_settled() -> None:
    controls, plane = ControlPlanes(), _depth(RAMP)
    assert controls.touches(KeepingPipeline("depth"), [plane])
    assert controls.touches(KeepingPipeline("canny"), [])  # the Canny fallback sets an image every frame
    assert not controls.touches(KeepingPipeline("depth"), [])
    assert not controls.touches(SimpleNamespace(), [plane])  # no ControlNets: planes are not for us


def test_a_pipeline_without_controlnets_is_left_alone() -> None:
    assert ControlPlanes.kinds(SimpleNamespace()) == ()
    assert ControlPlanes.kinds(SimpleNamespace(control=SimpleNamespace(nets=None))) == ()


def test_the_welcome_note_names_each_wanted_plane() -> None:
    note = wanted_planes(["depth", "seg", "canny", "pose"])
    assert note == ("ControlNet depth wants a Depth plane; ControlNet seg wants a Segmentation plane; ControlNet "
                    "canny wants a Control plane named 'canny' (else the server's Canny edges of the frame); "
                    "ControlNet pose wants a Control plane named 'pose'")
    assert wanted_planes([]) == ""


def test_the_config_maps_game_ids_to_ade20k_classes() -> None:
    cfg = parse_config('[model]\nsegmentation = ["1=wall", "7 = person", "9=12"]\n')
    assert cfg.model.segmentation_map() == {1: "wall", 7: "person", 9: 12}
    assert parse_config("").model.segmentation_map() == {}
    with pytest.raises(ConfigError, match=r"model.segmentation\[0\]='wall' is not ID=CLASS"):
        parse_config('[model]\nsegmentation = ["wall"]\n')
    with pytest.raises(ConfigError, match="id 1 is mapped twice"):
        parse_config('[model]\nsegmentation = ["1=wall", "1=floor"]\n')
