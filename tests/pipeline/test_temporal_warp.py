"""Motion-guided warping at latent resolution (sdbridge.pipeline.temporal_warp): identity, exact whole-cell shifts,
disocclusion masks."""

from __future__ import annotations

import pytest
import torch

from sdbridge.errors import InputError
from sdbridge.pipeline import temporal_warp as tw

FACTOR = 8


def _latent(seed: int = 0, h: int = 8, w: int = 10) -> torch.Tensor:
    return torch.randn(1, 4, h, w, generator=torch.Generator().manual_seed(seed))


def _motion(dx: float, dy: float, h: int = 8, w: int = 10) -> torch.Tensor:
    """Uniform pixel motion (1, 2, H, W), current -> previous."""
    motion = torch.empty(1, 2, h * FACTOR, w * FACTOR)
    motion[:, 0], motion[:, 1] = dx, dy
    return motion


def test_zero_motion_is_an_identity_warp() -> None:
    src = _latent()
    flow = tw.latent_flow(_motion(0, 0), FACTOR)
    warped, inside = tw.warp(src, flow)
    assert torch.equal(warped, src)
    assert torch.equal(inside, torch.ones(1, 1, 8, 10))
    assert torch.equal(tw.disocclusion_mask(flow), torch.ones(1, 1, 8, 10))


@pytest.mark.parametrize(("cells_x", "cells_y"), [(1, 0), (0, 2), (-3, 1), (2, -2)])
def test_a_whole_cell_translation_shifts_the_latent_by_exactly_that_many_cells(cells_x: int, cells_y: int) -> None:
    src = _latent(seed=cells_x * 7 + cells_y)
    # the surface at pixel p of the current frame was at p + motion in the previous one
    flow = tw.latent_flow(_motion(cells_x * FACTOR, cells_y * FACTOR), FACTOR)
    assert torch.equal(flow[:, 0], torch.full((1, 8, 10), float(cells_x)))
    warped, inside = tw.warp(src, flow)
    h, w = 8, 10
    ys, xs = slice(max(0, -cells_y), h - max(0, cells_y)), slice(max(0, -cells_x), w - max(0, cells_x))
    src_ys = slice(ys.start + cells_y, ys.stop + cells_y)
    src_xs = slice(xs.start + cells_x, xs.stop + cells_x)
    assert torch.equal(warped[..., ys, xs], src[..., src_ys, src_xs])  # exact, away from the borders
    expected_inside = torch.zeros(1, 1, h, w)
    expected_inside[..., ys, xs] = 1
    assert torch.equal(inside, expected_inside)  # the cells whose source left the frame are marked
    assert not torch.equal(warped, src)  # and the test can fail: the warp moved something


def test_a_half_cell_motion_interpolates_bilinearly() -> None:
    src = torch.arange(10.0).view(1, 1, 1, 10).expand(1, 1, 4, 10).contiguous()
    warped, _ = tw.warp(src, tw.latent_flow(_motion(FACTOR / 2, 0, h=4), FACTOR))
    torch.testing.assert_close(warped[0, 0, 0, :9], torch.arange(9.0) + 0.5)


def test_newly_visible_cells_are_masked_by_the_depth_test() -> None:
    # a near box (depth 2) covering cells x 2..4 moved right by 2 cells over a far static background (depth 10):
    # now it covers x 4..6; cells x 2..3 show background that the box hid in the previous frame
    h, w = 6, 10
    prev_depth = torch.full((1, 1, h, w), 10.0)
    prev_depth[..., 2:5] = 2.0
    depth = torch.full((1, 1, h, w), 10.0)
    depth[..., 4:7] = 2.0
    flow = torch.zeros(1, 2, h, w)
    flow[:, 0, :, 4:7] = -2.0  # the box's cells came from 2 cells to the left; the background did not move
    mask = tw.disocclusion_mask(flow, depth, prev_depth)
    expected = torch.ones(1, 1, h, w)
    expected[..., 2:4] = 0
    assert torch.equal(mask, expected)
    assert torch.equal(tw.disocclusion_mask(flow), torch.ones(1, 1, h, w))  # without depth nothing is masked


def test_forward_backward_disagreement_is_masked() -> None:
    h, w = 6, 10
    backward = torch.zeros(1, 2, h, w)
    backward[:, 0, :, 4:7] = -2.0
    forward = torch.zeros(1, 2, h, w)  # previous -> current, at the previous frame's cells
    forward[:, 0, :, 2:5] = 2.0  # the box moved right by 2; the background stayed
    mask = tw.disocclusion_mask(backward, forward=forward)
    # cells 2..3 now see the background (backward 0) but the previous frame's surface there (the box) went to 4..5
    expected = torch.ones(1, 1, h, w)
    expected[..., 2:4] = 0
    assert torch.equal(mask, expected)


def test_compose_chains_two_frames() -> None:
    one = tw.latent_flow(_motion(FACTOR, 0), FACTOR)
    keep = torch.ones(1, 1, 8, 10)
    flow, valid = tw.compose(one, keep, one, keep)
    src = _latent(3)
    warped, _ = tw.warp(src, flow)
    assert torch.equal(warped[..., :8], src[..., 2:])
    assert torch.equal(valid[..., 9:], torch.zeros(1, 1, 8, 1))  # the first hop already left the frame there


def test_bad_planes_are_refused_naming_the_shape() -> None:
    with pytest.raises(InputError, match=r"motion has shape \(2, 64, 80\)"):
        tw.latent_flow(torch.zeros(2, 64, 80), FACTOR)
    with pytest.raises(InputError, match="multiple of the VAE factor 8"):
        tw.latent_flow(torch.zeros(1, 2, 60, 80), FACTOR)
