"""Engine planes -> ControlNet conditioning images (sdbridge.pipeline.control_planes) on synthetic planes."""

from __future__ import annotations

import math

import pytest
import torch

from sdbridge.errors import ConfigError, InputError
from sdbridge.pipeline import ade20k
from sdbridge.pipeline.control_planes import (
    SegmentationMap,
    canny_control,
    depth_control,
    edge_control,
    inverse_depth,
    normal_control,
    segmentation_control,
)
from sdbridge.pipeline.controlnet import control_tensor

NEAR, FAR = 0.5, 100.0


def _steps() -> torch.Tensor:
    """(1, 1, 4, 8) linear depth: columns at 1, 2, 4, 8 (two columns each)."""
    return torch.tensor([1.0, 2.0, 4.0, 8.0]).repeat_interleave(2).expand(1, 1, 4, 8).clone()


def _device_depth(z: torch.Tensor, reversed_z: bool, far: float = FAR) -> torch.Tensor:
    """What a depth buffer holds for view depth z (module docstring's formula)."""
    d = (far / (far - NEAR)) * (1 - NEAR / z) if math.isfinite(far) else 1 - NEAR / z
    return 1 - d if reversed_z else d


def test_depth_is_normalised_inverse_depth_near_bright():
    out = depth_control(_steps())
    assert out.shape == (1, 3, 4, 8) and out.dtype == torch.float32
    inv = 1 / torch.tensor([1.0, 2.0, 4.0, 8.0])
    expected = (inv - inv.min()) / (inv.max() - inv.min())  # per image: nearest 1, farthest 0
    torch.testing.assert_close(out[0, :, 0, ::2], expected.expand(3, 4))
    ranged = depth_control(_steps(), near=NEAR, far=FAR, normalize="range")
    torch.testing.assert_close(ranged[0, 0, 0, ::2], (inv - 1 / FAR) / (1 / NEAR - 1 / FAR))
    sky = depth_control(torch.tensor([[[[1.0, math.inf]]]]))
    assert sky[0, 0, 0].tolist() == [1.0, 0.0]  # infinitely far is black


@pytest.mark.parametrize("reversed_z", [False, True])
@pytest.mark.parametrize("far", [FAR, math.inf])
def test_device_depth_gives_the_same_image_as_linear_depth(reversed_z, far):
    z = _steps()
    device = _device_depth(z, reversed_z, far)
    torch.testing.assert_close(inverse_depth(device, source="device", near=NEAR, far=far, reversed_z=reversed_z),
                               1 / z, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(depth_control(device, source="device", near=NEAR, far=far, reversed_z=reversed_z),
                               depth_control(z), rtol=1e-5, atol=1e-6)
    # able to fail: the wrong Z convention gives another image
    wrong = depth_control(device, source="device", near=NEAR, far=far, reversed_z=not reversed_z)
    assert (wrong - depth_control(z)).abs().max() > 0.1


def test_depth_settings_are_refused_naming_the_value():
    with pytest.raises(ConfigError, match="near=0, far=1"):
        inverse_depth(_steps(), near=0, far=1)
    with pytest.raises(ConfigError, match="needs a finite far"):
        depth_control(_steps(), normalize="range")
    with pytest.raises(InputError, match=r"depth of shape \(1, 2, 4, 8\)"):
        depth_control(torch.zeros(1, 2, 4, 8))


# (view-space normal, right-handed) -> NormalBAE colour: red = left, green = up, blue = towards the camera
KNOWN = [((0.0, 0.0, 1.0), (0.5, 0.5, 1.0)),  # facing the camera
         ((1.0, 0.0, 0.0), (0.0, 0.5, 0.5)),  # facing right
         ((-1.0, 0.0, 0.0), (1.0, 0.5, 0.5)),  # facing left
         ((0.0, 1.0, 0.0), (0.5, 1.0, 0.5)),  # facing up
         ((0.0, -1.0, 0.0), (0.5, 0.0, 0.5))]  # facing down


def _field(vectors) -> torch.Tensor:
    return torch.tensor(vectors).T.reshape(1, 3, 1, len(vectors))  # (1, 3, 1, N)


def test_normals_follow_normalbae_colours_on_known_vectors():
    got = normal_control(_field([v for v, _ in KNOWN]))
    torch.testing.assert_close(got, _field([c for _, c in KNOWN]))
    # left-handed view space (D3D, Unreal): z away from the viewer; facing the camera is -z there
    left = normal_control(_field([(0.0, 0.0, -1.0), (1.0, 0.0, 0.0)]), handedness="left")
    torch.testing.assert_close(left, _field([(0.5, 0.5, 1.0), (0.0, 0.5, 0.5)]))
    # world-space normals with the world-to-view rotation (camera turned 90 degrees: world +x is view +z)
    rotation = torch.tensor([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    world = normal_control(_field([(1.0, 0.0, 0.0)]), world_to_view=rotation)
    torch.testing.assert_close(world, _field([(0.5, 0.5, 1.0)]))
    # colours in [0, 1] (a normal buffer stored as a texture) and unnormalised vectors
    encoded = normal_control((_field([(0.0, 0.0, 1.0)]) + 1) / 2, encoded=True)
    torch.testing.assert_close(encoded, _field([(0.5, 0.5, 1.0)]))
    torch.testing.assert_close(normal_control(_field([(0.0, 0.0, 5.0)])), _field([(0.5, 0.5, 1.0)]))


def test_segmentation_ids_take_the_ade20k_palette():
    mapping = SegmentationMap({7: "sky", 3: "person", 0: 1})  # a name or an ADE20K index
    ids = torch.tensor([[[7, 3, 0, 5, 99, -1]]])  # 5 not mapped, 99 beyond the map, -1 negative
    out = segmentation_control(ids, mapping)
    assert out.shape == (1, 3, 1, 6)
    expected = [ade20k.PALETTE[2], ade20k.PALETTE[12], ade20k.PALETTE[1], (0, 0, 0), (0, 0, 0), (0, 0, 0)]
    torch.testing.assert_close(out[0, :, 0].T * 255, torch.tensor(expected, dtype=torch.float32))
    assert ade20k.CLASSES[2] == "sky" and ade20k.PALETTE[2] == (6, 230, 230) and len(ade20k.PALETTE) == 150
    with pytest.raises(ConfigError, match="segmentation id 4 -> 'skies': not an ADE20K class"):
        SegmentationMap({4: "skies"})
    with pytest.raises(InputError, match="give integer"):
        segmentation_control(torch.zeros(1, 2, 2), mapping)


def test_edges_follow_depth_jumps_and_normal_creases_only():
    depth = torch.ones(1, 1, 6, 6)
    depth[..., 3:] = 2.0  # a jump between columns 2 and 3
    depth[..., 0] = 1.01  # a 1 % step: below the 10 % jump, no line
    edges = edge_control(depth)
    assert edges.shape == (1, 3, 6, 6)
    assert edges[0, 0, :, 2:4].eq(1).all() and edges[0, 0, :, [0, 1, 4, 5]].eq(0).all()
    normals = torch.zeros(1, 3, 6, 6)
    normals[:, 2, :3] = 1.0  # rows 0-2 face the camera
    normals[:, 1, 3:] = 1.0  # rows 3-5 face up: a 90 degree crease between rows 2 and 3
    creases = edge_control(normals=normals)
    assert creases[0, 0, 2:4].eq(1).all() and creases[0, 0, [0, 1, 4, 5]].eq(0).all()
    both = edge_control(depth, normals)
    assert both[0, 0].sum() == (edges[0, 0].bool() | creases[0, 0].bool()).sum()
    assert edge_control(torch.ones(1, 1, 6, 6)).eq(0).all()


def test_canny_finds_the_border_of_a_square():
    image = torch.zeros(1, 3, 32, 32)
    image[..., 8:24, 8:24] = 1.0
    edges = canny_control(image)
    assert edges.shape == (1, 3, 32, 32)
    border = torch.zeros(32, 32, dtype=torch.bool)
    border[6:26, 6:26] = True
    border[10:22, 10:22] = False  # a ring around the square's outline
    assert edges[0, 0][border].sum() > 40  # the outline (4 sides of 16 pixels) is found
    assert edges[0, 0][~border].sum() == 0  # nothing inside or far away
    pixels = (image[0].permute(1, 2, 0) * 255).to(torch.uint8)  # uint8 (H, W, 3) frames too
    torch.testing.assert_close(canny_control(pixels), edges)


def test_planes_feed_a_control_stream():
    """The images are what ControlStream.set_image takes: float (B, 3, H, W) in [0, 1], resized to the stream."""
    image = depth_control(_steps())
    tensor = control_tensor(image, 16, 8, 2, torch.device("cpu"), torch.float32)
    assert tensor.shape == (2, 3, 8, 16) and tensor.min() >= 0 and tensor.max() <= 1
