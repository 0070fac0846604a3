"""Engine planes (depth, normals, object/material ids) turned into ControlNet conditioning images.

Pure torch functions: the result stays on the device and in the stream of its input (no host copy, no
`.item()`, no branching on tensor values), float32 (B, 3, H, W) in [0, 1], what
`StreamPipeline.control.set_image` takes. The conventions are those the public ControlNets were trained on:

depth     control_v11f1p_sd15_depth, sd-controlnet-depth and the SDXL depth ControlNets were trained on MiDaS-style
          relative inverse depth: near bright, far dark, grey in the three channels, normalised per image to
          [0, 1] (the annotators subtract the minimum and divide by the maximum). `depth_control` makes it from
          linear view depth (distance along the view axis, in any unit) or device depth (the window-space depth
          buffer value in [0, 1]: d = f / (f - n) * (1 - n / z) for D3D, Vulkan, Metal and OpenGL's [0, 1]
          window depth; reversed-Z: 1 - that, the default of Unreal (with an infinite far plane) and of Unity on
          D3D11/12, Vulkan and Metal). Inverse depth is linear in device depth:
              standard    1/z = 1/n - d * (1/n - 1/f)        reversed-Z    1/z = 1/f + d * (1/n - 1/f)
          so per-image normalisation needs neither n nor f; `normalize="range"` maps 1/f..1/n to 0..1 instead
          (stable across frames: no flicker when the nearest object moves).
normals   control_v11p_sd15_normalbae was trained on NormalBAE's camera-space normals mapped to (n + 1) / 2 with
          red = left (-x), green = up (+y), blue = towards the camera (+z): a surface facing the camera is
          (0.5, 0.5, 1.0), one facing right (0.0, 0.5, 0.5), one facing up (0.5, 1.0, 0.5). `normal_control`
          takes view-space normals of a right-handed view frame (OpenGL, Unity's view space: x right, y up, z
          towards the viewer) or a left-handed one (D3D, Unreal: z away from the viewer), or world-space normals
          with the world-to-view rotation.
ids       control_v11p_sd15_seg was trained on ADE20K segmentations coloured with the ADE20K palette
          (sdbridge.pipeline.ade20k). `SegmentationMap` declares which ADE20K class each game id is; ids it does
          not name are black (ADE20K's "other").
edges     `edge_control`: white one-pixel lines on black where depth jumps or the surface normal turns (a
          line-art / canny-like image for control_v11p_sd15_canny or lineart, without colour texture edges).
canny     `canny_control`: kornia's Canny edge detector on a colour frame, for clients that send colour only.

Not run on a GPU here: every function is device-agnostic torch (tests/pipeline/test_control_planes.py on the CPU).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Literal

import torch

from sdbridge.errors import ConfigError, InputError
from sdbridge.pipeline import ade20k

_EPS = 1e-6


def _planes(x: torch.Tensor, channels: int, what: str) -> torch.Tensor:
    """x as contiguous (B, channels, H, W) float32: (H, W) and (B, H, W) accepted for one channel, (C, H, W) for C.
    Contiguous because a plane arrives as a strided view ((H, W, 4) RGBA read as (1, 3, H, W)) and the
    per-pixel sums over the channels run several times slower on that layout."""
    if channels == 1 and x.dim() in (2, 3):
        x = x.reshape(-1, 1, *x.shape[-2:])
    elif x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[1] != channels:
        raise InputError(f"{what} of shape {tuple(x.shape)}: give (B, {channels}, H, W)"
                         + (" or (B, H, W)" if channels == 1 else ""))
    return x.contiguous().float()  # the layout first, in the input's (often half) width: 0.3 ms against 3.9


def inverse_depth(depth: torch.Tensor, *, source: Literal["linear", "device"] = "linear", near: float = 0.1,
                  far: float = math.inf, reversed_z: bool = False) -> torch.Tensor:
    """1 / view depth (B, 1, H, W) from linear view depth or device depth (see the module docstring); 0 at
    infinity (sky). near > 0 and far > near (far may be inf) are the camera's clip planes."""
    if not (near > 0 and far > near):
        raise ConfigError(f"near={near}, far={far}: need 0 < near < far (far may be inf); use the camera's clip planes")
    z = _planes(depth, 1, "depth")
    inv_near, inv_far = 1.0 / near, 0.0 if math.isinf(far) else 1.0 / far
    if source == "linear":
        return 1.0 / z.clamp_min(_EPS)  # inf depth -> 0
    if source != "device":
        raise ConfigError(f"depth source={source!r}: use 'linear' (view distance) or 'device' (depth buffer [0, 1])")
    d = z.clamp(0.0, 1.0)
    return inv_far + d * (inv_near - inv_far) if reversed_z else inv_near - d * (inv_near - inv_far)


def depth_control(depth: torch.Tensor, *, source: Literal["linear", "device"] = "linear", near: float = 0.1,
                  far: float = math.inf, reversed_z: bool = False,
                  normalize: Literal["frame", "range"] = "frame") -> torch.Tensor:
    """A depth ControlNet's image (B, 3, H, W) in [0, 1], near bright: normalised inverse depth, per image
    ("frame", the annotators' convention) or over [1/far, 1/near] ("range"; needs a finite far)."""
    inv = inverse_depth(depth, source=source, near=near, far=far, reversed_z=reversed_z)  # (B, 1, H, W)
    if normalize == "frame":
        lo = inv.amin(dim=(2, 3), keepdim=True)
        hi = inv.amax(dim=(2, 3), keepdim=True)
        out = (inv - lo) / (hi - lo).clamp_min(_EPS)
    elif normalize == "range":
        if math.isinf(far):
            raise ConfigError("normalize='range' maps 1/far..1/near to 0..1 and needs a finite far; give far= or "
                              "use normalize='frame'")
        out = (inv - 1.0 / far) / (1.0 / near - 1.0 / far)
    else:
        raise ConfigError(f"normalize={normalize!r}: use 'frame' (per image) or 'range' (near..far)")
    return out.clamp(0.0, 1.0).expand(-1, 3, -1, -1).contiguous()


def _oriented(normals: torch.Tensor, handedness: str, world_to_view: torch.Tensor | None,
              encoded: bool) -> torch.Tensor:
    """view_normals before the normalisation: (B, 3, H, W) in the right-handed view frame, any length."""
    n = _planes(normals, 3, "normals")
    n = n * 2.0 - 1.0 if encoded else n
    if world_to_view is not None:
        rotation = world_to_view.to(n.device, n.dtype)
        rotation = rotation.expand(n.shape[0], 3, 3) if rotation.dim() == 2 else rotation
        n = torch.einsum("bij,bjhw->bihw", rotation, n)
    if handedness == "left":
        n = n * torch.tensor([1.0, 1.0, -1.0], device=n.device).view(1, 3, 1, 1)
    elif handedness != "right":
        raise ConfigError(f"handedness={handedness!r}: 'right' (OpenGL, Unity view space) or 'left' (D3D, Unreal)")
    return n


def _inverse_length(n: torch.Tensor) -> torch.Tensor:
    """1 / max(|n|, eps) over the channel dimension, (B, 1, H, W): what torch.nn.functional.normalize divides by.
    The squares of the three channel slices added in place, rather than Tensor.norm(dim=1), which takes a slow
    strided path on the CPU (measured on one thread for (1, 3, 512, 512) float32: 23 ms; this: 0.17 ms)."""
    x, y, z = n[:, 0:1], n[:, 1:2], n[:, 2:3]
    return (x * x).addcmul_(y, y).addcmul_(z, z).clamp_min_(_EPS * _EPS).rsqrt_()


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-pixel dot product (B, 1, H, W) of two (B, 3, H, W) fields, from the channel slices (see _inverse_length)."""
    return (a[:, 0:1] * b[:, 0:1]).addcmul_(a[:, 1:2], b[:, 1:2]).addcmul_(a[:, 2:3], b[:, 2:3])


def view_normals(normals: torch.Tensor, *, handedness: Literal["right", "left"] = "right",
                 world_to_view: torch.Tensor | None = None, encoded: bool = False) -> torch.Tensor:
    """Unit normals (B, 3, H, W) in the right-handed view frame (x right, y up, z towards the viewer).

    normals: (B, 3, H, W) vectors in [-1, 1] (encoded=True: colours in [0, 1], n = 2c - 1); world_to_view:
    (3, 3) or (B, 3, 3) rotation applied first (world-space normals); handedness: of the view frame they are in
    ("left": z away from the viewer, as D3D and Unreal). Zero vectors (no geometry) stay zero."""
    n = _oriented(normals, handedness, world_to_view, encoded)
    return n * _inverse_length(n)


def normal_control(normals: torch.Tensor, *, handedness: Literal["right", "left"] = "right",
                   world_to_view: torch.Tensor | None = None, encoded: bool = False) -> torch.Tensor:
    """The normal ControlNet's image (B, 3, H, W) in [0, 1]: NormalBAE's colours (module docstring) of the
    normals; the keywords are view_normals'. One fused expression: (unit(n) * (-1, 1, 1) + 1) / 2."""
    n = _oriented(normals, handedness, world_to_view, encoded)
    half = torch.tensor([-0.5, 0.5, 0.5], device=n.device).view(1, 3, 1, 1)  # red = left, then (x + 1) / 2
    return (n * half).mul_(_inverse_length(n)).add_(0.5).clamp_(0.0, 1.0)


class SegmentationMap:
    """Which ADE20K class each game id is: {game id: ADE20K class name or index}; other ids are black."""

    def __init__(self, mapping: Mapping[int, str | int]) -> None:
        self.classes: dict[int, int] = {}
        for game_id, cls in mapping.items():
            if not isinstance(game_id, int) or game_id < 0:
                raise ConfigError(f"segmentation game id {game_id!r} must be an int >= 0")
            index = ade20k.INDEX.get(cls) if isinstance(cls, str) else cls
            if index is None or not 0 <= index < len(ade20k.CLASSES):
                near = [name for name in ade20k.CLASSES if isinstance(cls, str) and cls[:3] in name][:5]
                raise ConfigError(f"segmentation id {game_id} -> {cls!r}: not an ADE20K class (0..149 or a name in "
                                  f"sdbridge.pipeline.ade20k.CLASSES{', e.g. ' + ', '.join(near) if near else ''})")
            self.classes[game_id] = index
        size = max(self.classes, default=-1) + 1  # ids 0..max
        table = torch.zeros(3, size + 2)  # column 0 and the last: black, for ids below 0 and above max
        for game_id, index in self.classes.items():
            table[:, game_id + 1] = torch.tensor(ade20k.PALETTE[index]) / 255.0
        self._table = table
        self._on: dict[torch.device, torch.Tensor] = {}

    def table(self, device: torch.device) -> torch.Tensor:
        """(3, max id + 3) colours in [0, 1] on `device` (copied there once): column id + 1 is game id `id`'s
        colour; the first and the last columns are black (ids below 0, ids beyond the map)."""
        hit = self._on.get(device)
        if hit is None:
            hit = self._on[device] = self._table.to(device)
        return hit


def segmentation_control(ids: torch.Tensor, mapping: SegmentationMap) -> torch.Tensor:
    """The segmentation ControlNet's image (B, 3, H, W) in [0, 1] of integer ids (B, H, W) or (B, 1, H, W).
    One index_select of the flat ids (shifted by one and clamped into the table, so unknown ids land on a black
    column) from the (3, N) table: 0.5 ms at 512x512 on one CPU thread, against 3.5 ms for table[ids] in
    (B, H, W, 3) followed by a permute."""
    if ids.is_floating_point() or ids.dim() not in (3, 4) or (ids.dim() == 4 and ids.shape[1] != 1):
        raise InputError(f"ids of shape {tuple(ids.shape)} and dtype {ids.dtype}: give integer (B, H, W)")
    table = mapping.table(ids.device)  # (3, N)
    batch, height, width = ids.shape[0], ids.shape[-2], ids.shape[-1]
    flat = ids.reshape(-1)
    flat = flat if flat.dtype in (torch.int32, torch.int64) else flat.long()  # index_select takes either
    flat = (flat + 1).clamp_(0, table.shape[1] - 1)  # an int32 id of 2**31 - 1 wraps below 0: black either way
    colours = torch.index_select(table, 1, flat)  # (3, B * H * W)
    return colours.view(3, batch, height, width).permute(1, 0, 2, 3).contiguous()


def edge_control(depth: torch.Tensor | None = None, normals: torch.Tensor | None = None, *,
                 depth_jump: float = 0.1, normal_angle_deg: float = 30.0) -> torch.Tensor:
    """White lines on black (B, 3, H, W) where neighbouring pixels' linear depth differs by more than
    `depth_jump` of the nearer one, or their normals (view_normals' output, or any unit normals) by more
    than `normal_angle_deg`. The line is drawn on both pixels of the pair."""
    if depth is None and normals is None:
        raise InputError("edge_control needs depth, normals or both")
    masks = []
    if depth is not None:
        z = _planes(depth, 1, "depth")
        masks.append(_pair_edges(z, lambda a, b: (a - b).abs() > depth_jump * torch.minimum(a, b).clamp_min(_EPS)))
    if normals is not None:
        n = _planes(normals, 3, "normals")
        n = n * _inverse_length(n)
        cos = math.cos(math.radians(normal_angle_deg))
        masks.append(_pair_edges(n, lambda a, b: _dot(a, b) < cos))
    edges = masks[0] if len(masks) == 1 else masks[0] | masks[1]
    return edges.float().expand(-1, 3, -1, -1).contiguous()


def _pair_edges(x: torch.Tensor, differs: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """(B, 1, H, W) bool: a pixel differs from its right or lower neighbour, or its left or upper one does."""
    b, _, h, w = x.shape
    out = torch.zeros(b, 1, h, w, dtype=torch.bool, device=x.device)
    across = differs(x[..., :, 1:], x[..., :, :-1])  # (B, 1, H, W - 1)
    down = differs(x[..., 1:, :], x[..., :-1, :])  # (B, 1, H - 1, W)
    out[..., :, 1:] |= across
    out[..., :, :-1] |= across
    out[..., 1:, :] |= down
    out[..., :-1, :] |= down
    return out


def canny_control(image: torch.Tensor, low: float = 0.1, high: float = 0.2) -> torch.Tensor:
    """Canny edges (B, 3, H, W) in {0, 1} of a colour frame: float (B, 3, H, W) in [0, 1] or uint8 (B, H, W, 3)
    pixels, by kornia.filters.canny (Gaussian 5x5 blur, Sobel gradients, hysteresis between `low` and `high`,
    thresholds on the gradient of [0, 1] intensities: not OpenCV's 0..255 scale)."""
    from kornia.filters import canny

    if image.dtype == torch.uint8:
        image = image.reshape(-1, *image.shape[-3:]).permute(0, 3, 1, 2).float() / 255.0
    frames = _planes(image, 3, "image")
    _, edges = canny(frames, low_threshold=low, high_threshold=high)  # (B, 1, H, W)
    return edges.expand(-1, 3, -1, -1).contiguous()
