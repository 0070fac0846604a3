"""Motion-guided warping at latent resolution (pure torch, no model): the engine's motion vectors bring the
previous output latent to the current frame, and the cells whose surface was not visible there are masked out.

Motion convention (the wire's engine-planes convention with MotionUnits.Pixels, MotionTarget.Previous and
motion_y_up false): `motion` (B, 2, H, W) float, in pixels of the frame (H, W); channel 0 is x (+ to the right),
channel 1 is y (+ down the image). The surface seen at pixel p of the current frame was at p + motion[p] in the
previous frame. A client's UV, y-up or current -> next vectors are converted to this before they reach here.
Depth is linear (view-space distance, the wire's DepthEncoding.Linear), (B, 1, H, W).

At latent resolution (h, w) = (H / f, W / f), f = the VAE factor, a flow is in latent cells: the average of
the f x f pixels' motion over f (`latent_flow`). The warp samples bilinearly by gathering the four neighbours
itself (no grid_sample normalisation), so a whole-cell flow moves values exactly.

Disocclusion (`disocclusion_mask`): a cell is kept (1) when its source position lies inside the previous frame,
and, when the previous depth is given, the previous depth warped to it agrees with its own depth within
DEPTH_TOLERANCE (relative), and, when the forward motion (previous -> current) is given, it and the backward
motion agree (Sundaram et al. 2010's test with FLOW_ALPHA, FLOW_BETA, in cells).
"""

from __future__ import annotations

import torch
from torch.nn import functional

from sdbridge.errors import InputError

#: Depth test: |depth - warped previous depth| <= DEPTH_TOLERANCE * depth keeps a cell.
DEPTH_TOLERANCE = 0.1
#: Forward/backward test: |b + f(p + b)|^2 <= FLOW_ALPHA * (|b|^2 + |f(p + b)|^2) + FLOW_BETA (cells^2) keeps a cell.
FLOW_ALPHA = 0.01
FLOW_BETA = 0.25


def latent_flow(motion: torch.Tensor, factor: int) -> torch.Tensor:
    """Pixel motion (B, 2, H, W) -> latent flow (B, 2, H / factor, W / factor) in cells (float32)."""
    _check_plane("motion", motion, 2)
    if motion.shape[-1] % factor or motion.shape[-2] % factor:
        raise InputError(f"motion is {motion.shape[-2]}x{motion.shape[-1]} pixels, not a multiple of the VAE "
                         f"factor {factor}; send motion at the frame's size")
    return functional.avg_pool2d(motion.float(), factor) / factor


def latent_depth(depth: torch.Tensor, factor: int) -> torch.Tensor:
    """Linear depth (B, 1, H, W) -> (B, 1, H / factor, W / factor), the mean of each cell (float32)."""
    _check_plane("depth", depth, 1)
    return functional.avg_pool2d(depth.float(), factor)


def warp(src: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Backward warp: out[p] = src[p + flow[p]], bilinear. src (B, C, h, w), flow (B, 2, h, w) in cells.

    Returns (warped (B, C, h, w) float32 (float64 for a float64 src: a zero flow gives src back exactly), inside
    (B, 1, h, w) float32: 1 where p + flow[p] lies in the grid). Positions outside are clamped to the border (and
    marked 0 in `inside`)."""
    b, c, h, w = src.shape
    ys = torch.arange(h, device=flow.device, dtype=torch.float32).view(1, h, 1)
    xs = torch.arange(w, device=flow.device, dtype=torch.float32).view(1, 1, w)
    x, y = xs + flow[:, 0].float(), ys + flow[:, 1].float()  # (B, h, w) source positions
    inside = ((x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)).float().unsqueeze(1)
    x, y = x.clamp(0, w - 1), y.clamp(0, h - 1)
    x0, y0 = x.floor(), y.floor()
    wx, wy = (x - x0).unsqueeze(1), (y - y0).unsqueeze(1)  # (B, 1, h, w)
    x0i, y0i = x0.long(), y0.long()
    x1i, y1i = (x0i + 1).clamp(max=w - 1), (y0i + 1).clamp(max=h - 1)
    flat = src.to(torch.promote_types(src.dtype, torch.float32)).reshape(b, c, h * w)

    def at(yi: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
        index = (yi * w + xi).view(b, 1, h * w).expand(b, c, h * w)
        return flat.gather(2, index).view(b, c, h, w)

    top = at(y0i, x0i) * (1 - wx) + at(y0i, x1i) * wx
    bottom = at(y1i, x0i) * (1 - wx) + at(y1i, x1i) * wx
    return top * (1 - wy) + bottom * wy, inside


def disocclusion_mask(flow: torch.Tensor, depth: torch.Tensor | None = None,
                      previous_depth: torch.Tensor | None = None,
                      forward: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 1, h, w) float32, 1 where the cell's surface was visible in the previous frame, else 0.

    flow (B, 2, h, w): current -> previous, cells; depth / previous_depth (B, 1, h, w) linear, at latent
    resolution (the depth test runs when both are given); forward (B, 2, h, w): previous -> current, cells."""
    _, keep = warp(flow, flow)  # only `inside` is used here
    if depth is not None and previous_depth is not None:
        warped_depth, _ = warp(previous_depth, flow)
        keep = keep * ((depth.float() - warped_depth).abs() <= DEPTH_TOLERANCE * depth.float().abs()).float()
    if forward is not None:
        f, _ = warp(forward, flow)  # the forward motion at the source position
        b = flow.float()
        gap = (b + f).square().sum(1, keepdim=True)
        scale = b.square().sum(1, keepdim=True) + f.square().sum(1, keepdim=True)
        keep = keep * (gap <= FLOW_ALPHA * scale + FLOW_BETA).float()
    return keep


def compose(flow: torch.Tensor, keep: torch.Tensor, older_flow: torch.Tensor,
            older_keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Chain two frames' flows: (flow, keep) maps frame t to t-1, (older_flow, older_keep) maps t-1 to t-2;
    returns frame t -> t-2: flow + older_flow(p + flow), keep * older_keep(p + flow). All (B, ., h, w)."""
    moved, inside = warp(torch.cat([older_flow.float(), older_keep.float()], 1), flow)
    return flow.float() + moved[:, :2], keep * moved[:, 2:] * inside


def _check_plane(name: str, plane: torch.Tensor, channels: int) -> None:
    if plane.dim() != 4 or plane.shape[1] != channels:
        raise InputError(f"{name} has shape {tuple(plane.shape)}; expected (B, {channels}, H, W) (one plane per "
                         f"frame, channels first)")
    if not plane.is_floating_point():
        raise InputError(f"{name} has dtype {plane.dtype}; expected a float tensor")
