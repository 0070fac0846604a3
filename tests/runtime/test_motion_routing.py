"""A frame's Motion plane -> the pipeline's temporal warp (sdbridge.runtime.control_inputs, runtime.motion_planes):
each declared convention (units, y direction, target frame, plane size) converted to pixels of the model's frame,
current -> previous, +y down; depth planes linearised; routed only to pipelines that use motion (motion_warp on, or
the attention bank on and warped), which are settled first."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from sdbridge.protocol import messages as m
from sdbridge.runtime.control_inputs import ControlPlanes, uses_motion
from sdbridge.runtime.motion_planes import depth_tensor, motion_tensor
from sdbridge.runtime.planes import Plane

H, W = 8, 16  # the model's frame


class WarpingPipeline:
    """A pipeline with motion_warp `strength` and no ControlNets; keeps every set_motion call."""

    def __init__(self, strength: float = 0.5) -> None:
        self.motions: list[tuple[torch.Tensor, torch.Tensor | None]] = []
        self.config = SimpleNamespace(motion_warp=strength, width=W, height=H)
        self.components = SimpleNamespace(device=torch.device("cpu"))
        self.temporal = SimpleNamespace(set_motion=lambda motion, depth=None: self.motions.append((motion, depth)))


def _motion(x: float, y: float, h: int = H, w: int = W, **desc: Any) -> Plane:
    array = np.empty((h, w, 2), np.float32)
    array[..., 0], array[..., 1] = x, y
    array.flags.writeable = False
    fields = {"motion_units": m.MotionUnits.PIXELS, "motion_target": m.MotionTarget.PREVIOUS, **desc}
    return Plane(m.PlaneDesc(m.PlaneKind.MOTION, m.PlaneFormat.RG32_F, w, h, array.strides[0], **fields), array)


def _xy(plane: Plane) -> tuple[float, float]:
    field = motion_tensor(plane, W, H, torch.device("cpu"))
    assert field.shape == (2, H, W) and field.dtype == torch.float32
    assert torch.equal(field[0], torch.full((H, W), field[0, 0, 0].item()))  # a uniform field stays uniform
    return field[0, 0, 0].item(), field[1, 0, 0].item()


def test_each_convention_becomes_pixels_towards_the_previous_frame_with_y_down() -> None:
    assert _xy(_motion(3.0, -2.0)) == (3.0, -2.0)  # the warp's own convention passes unchanged
    assert _xy(_motion(0.25, -0.5, motion_units=m.MotionUnits.UV)) == (4.0, -4.0)  # fractions of 16 x 8
    assert _xy(_motion(3.0, -2.0, motion_y_up=True)) == (3.0, 2.0)
    assert _xy(_motion(3.0, -2.0, motion_target=m.MotionTarget.NEXT)) == (-3.0, 2.0)  # constant velocity
    assert _xy(_motion(3.0, -2.0, h=4, w=4)) == (12.0, -4.0)  # plane pixels -> model pixels, per axis
    assert _xy(_motion(0.25, 0.5, h=4, w=4, motion_units=m.MotionUnits.UV, motion_y_up=True,
                       motion_target=m.MotionTarget.NEXT)) == (-4.0, 4.0)


def test_a_varying_field_is_resized_with_its_vectors() -> None:
    array = np.zeros((H // 2, W // 2, 2), np.float32)
    array[:, W // 4:, 0] = 1.0  # the right half moves one plane pixel right
    plane = Plane(m.PlaneDesc(m.PlaneKind.MOTION, m.PlaneFormat.RG32_F, W // 2, H // 2, array.strides[0],
                              motion_units=m.MotionUnits.PIXELS, motion_target=m.MotionTarget.PREVIOUS), array)
    field = motion_tensor(plane, W, H, torch.device("cpu"))
    assert field[0, :, 0].eq(0).all() and field[0, :, -1].eq(2).all()  # 1 plane pixel = 2 model pixels
    assert field[1].eq(0).all()


def test_depth_planes_reach_the_warp_as_linear_depth() -> None:
    array = np.full((H // 2, W // 2), 5.0, np.float32)
    linear = Plane(m.PlaneDesc(m.PlaneKind.DEPTH, m.PlaneFormat.R32_F, W // 2, H // 2, array.strides[0],
                               depth_encoding=m.DepthEncoding.LINEAR), array)
    assert torch.equal(depth_tensor(linear, W, H, torch.device("cpu")), torch.full((1, 1, H, W), 5.0))
    device = np.full((H, W), 1.0, np.float32)  # reversed Z: 1 at the near plane
    plane = Plane(m.PlaneDesc(m.PlaneKind.DEPTH, m.PlaneFormat.R32_F, W, H, device.strides[0],
                              depth_encoding=m.DepthEncoding.DEVICE, reversed_z=True, depth_near=0.5,
                              depth_far=100.0), device)
    torch.testing.assert_close(depth_tensor(plane, W, H, torch.device("cpu")), torch.full((1, 1, H, W), 0.5))


def test_a_warping_pipeline_gets_each_frames_motion_and_depth() -> None:
    controls, pipe = ControlPlanes(), WarpingPipeline()
    depth = np.full((H, W), 3.0, np.float32)
    depth_plane = Plane(m.PlaneDesc(m.PlaneKind.DEPTH, m.PlaneFormat.R32_F, W, H, depth.strides[0],
                                    depth_encoding=m.DepthEncoding.LINEAR), depth)
    assert controls.used_by(pipe) and controls.touches(pipe, [_motion(1.0, 0.0)])
    controls.apply(1, pipe, [_motion(1.0, 0.0, motion_y_up=True), depth_plane], np.zeros((H, W, 3), np.uint8))
    ((motion, given_depth),) = pipe.motions
    assert torch.equal(motion, torch.stack([torch.ones(H, W), torch.zeros(H, W)]))
    assert given_depth is not None and torch.equal(given_depth, torch.full((1, 1, H, W), 3.0))
    controls.apply(1, pipe, [depth_plane], np.zeros((H, W, 3), np.uint8))  # no motion plane: no motion set
    assert len(pipe.motions) == 1
    assert not controls.touches(pipe, [depth_plane])  # nothing to set: the session keeps overlapping
    pipe.record_planes = lambda planes: None  # type: ignore[attr-defined]  (a recorded session, sdbridge.record)
    assert controls.touches(pipe, [depth_plane])  # it records the planes of its next call: settled first


def test_a_pipeline_that_does_not_warp_takes_no_motion() -> None:
    controls, off = ControlPlanes(), WarpingPipeline(strength=0.0)
    assert not controls.used_by(off) and not controls.touches(off, [_motion(1.0, 0.0)])
    assert not controls.used_by(SimpleNamespace(config=SimpleNamespace(motion_warp=0.5)))  # no temporal state
    assert controls.used_by(WarpingPipeline())  # able to fail: the same pipeline warping is used


def test_a_warped_attention_bank_takes_motion_without_motion_warp() -> None:
    controls = ControlPlanes()
    banked = WarpingPipeline(strength=0.0)
    banked.config = SimpleNamespace(motion_warp=0.0, attention_bank=2, attention_bank_warp=True, width=W, height=H)
    assert uses_motion(banked.config) and controls.used_by(banked) and controls.touches(banked, [_motion(1.0, 0.0)])
    controls.apply(1, banked, [_motion(1.0, 0.0)], np.zeros((H, W, 3), np.uint8))
    assert len(banked.motions) == 1
    # the bank off, its warp off, a config without a bank
    for still in ({"attention_bank": 0, "attention_bank_warp": True},
                  {"attention_bank": 2, "attention_bank_warp": False}, {"attention_bank_warp": True}):
        banked.config = SimpleNamespace(motion_warp=0.0, width=W, height=H, **still)
        assert not uses_motion(banked.config) and not controls.used_by(banked)
