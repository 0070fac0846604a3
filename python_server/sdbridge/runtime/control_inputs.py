"""A frame's planes turned into its session's ControlNet control images, before the frame is staged.

For each ControlNet the session's pipeline runs (`pipe.control.nets.names`, the KIND of `--controlnet
KIND=SOURCE[@SCALE]`), `ControlPlanes.apply` picks the plane that conditions it, converts it on the pipeline's
device with sdbridge.pipeline.control_planes and hands it to `pipe.control.set_image` (which resizes it to the
model's size and keeps it per Stream Batch slot, so each slot is conditioned on the frame it denoises):

    KIND                       plane (PLANE_FOR_KIND)       conversion
    depth                      Depth                        depth_control: normalised inverse depth, near bright
    normal, normals, normalbae Normals (View space)         normal_control: NormalBAE colours
    seg, segmentation          Segmentation                 segmentation_control through the SegmentationMap
    any other KIND             Control plane named KIND     the client's ready-made image (R8 grey or RGBA8)

When the plane is missing (documented behaviour, never silent):
  * canny-like KINDs (CANNY_KINDS: canny, lineart, lineart_anime, softedge, scribble, mlsd) without a Control
    plane of that name get the server-side Canny edges of the colour frame (canny_control), every frame;
  * every other KIND is not given an image for that frame: the pipeline keeps the last control image the session
    sent (none yet: that ControlNet is off, scale 0, for its slots), and the server logs once per session and
    KIND a warning naming the missing plane and what the client must send (Frame.planes with the kind and its
    conventions). Clients learn the wanted planes up front from Welcome.wanted_planes (protocol 1.4; older clients
    from `wanted_planes`, the Welcome's warning text).

Normals in World space cannot be related to the image without the camera (schemas/bridge.fbs): they are treated
like a missing plane (warned once). Segmentation ids pass through the config's id -> ADE20K map
(`[model] segmentation`, sdbridge.config.ModelConfig.segmentation); without one, ids are read as ADE20K class
indices (0..149; others black).

Motion: for a pipeline that uses motion (`uses_motion`: motion-guided warping on, `config.motion_warp` > 0,
sdbridge.pipeline.temporal; or the attention bank on and warped, `attention_bank` > 0 and `attention_bank_warp`,
sdbridge.pipeline.cached_attention.warps), a frame's Motion plane (with its Depth plane, when sent, for the depth
test) goes to `pipe.temporal.set_motion`, converted from the plane's declared units, y direction and target frame to
the warp's convention (runtime.motion_planes). A frame without a Motion plane sets none: that frame gets no warp (the
warp never guesses motion). `used_by` says whether a pipeline takes anything from planes at all.

Setting an image changes the pipeline (and a recorded frame's planes are numbered by the recorded calls), so the
caller settles the session first when `touches` says so (no call of its frames in the device lane:
runtime.frame_work). Not run on a GPU here: the conversions are device-agnostic torch run on the
pipeline's device (tests on the CPU).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from sdbridge.protocol.messages import DepthEncoding, NormalEncoding, NormalSpace, PlaneFormat, PlaneKind
from sdbridge.runtime.planes import Plane

__all__ = ["CANNY_KINDS", "PLANE_FOR_KIND", "ControlPlanes", "uses_motion", "wanted_planes"]

log = logging.getLogger(__name__)

#: ControlNet KIND -> the plane kind that conditions it (other KINDs: a Control plane named KIND)
PLANE_FOR_KIND: Mapping[str, PlaneKind] = {
    "depth": PlaneKind.DEPTH,
    "normal": PlaneKind.NORMALS, "normals": PlaneKind.NORMALS, "normalbae": PlaneKind.NORMALS,
    "seg": PlaneKind.SEGMENTATION, "segmentation": PlaneKind.SEGMENTATION,
}

#: KINDs whose missing plane falls back to the server's Canny edges of the colour frame
CANNY_KINDS = frozenset({"canny", "lineart", "lineart_anime", "softedge", "scribble", "mlsd"})


def wanted_planes(kinds: Sequence[str]) -> str:
    """What a client should send for ControlNets `kinds` (the Welcome's note), e.g. "ControlNet depth wants a
    Depth plane"; empty for no ControlNet."""
    wants = []
    for kind in kinds:
        plane = PLANE_FOR_KIND.get(kind)
        what = f"a {plane.name.capitalize()} plane" if plane is not None else f"a Control plane named {kind!r}"
        if kind in CANNY_KINDS:
            what += " (else the server's Canny edges of the frame)"
        wants.append(f"ControlNet {kind} wants {what}")
    return "; ".join(wants)


def uses_motion(config: Any) -> bool:
    """Whether a pipeline configured by `config` takes Motion planes: motion-guided warping on (`motion_warp` > 0) or
    the attention bank on and warped (sdbridge.pipeline.cached_attention.warps: `attention_bank` > 0 and
    `attention_bank_warp`). `config`: a StreamConfig, the server's `[pipeline]` settings or any object with these
    names (a missing one counts as off; None: no pipeline config, False)."""
    if getattr(config, "motion_warp", 0) > 0:
        return True
    if not getattr(config, "attention_bank_warp", False) or not hasattr(config, "attention_bank"):
        return False  # the bank's warp is off: no need to import the pipeline (torch) to ask it
    from sdbridge.pipeline.cached_attention import warps

    return warps(config)


class ControlPlanes:
    """Sets each frame's control images from its planes (module docstring); one per worker.

    `segmentation`: {game id: ADE20K class name or index} (None: ids are ADE20K indices); `warn`: where the
    one-time missing-plane messages go (default: this module's logger)."""

    def __init__(self, segmentation: Mapping[int, str | int] | None = None,
                 warn: Callable[[str], None] | None = None) -> None:
        self._segmentation = segmentation
        self._map: Any = None  # control_planes.SegmentationMap, made on first use (imports torch)
        if segmentation:
            self._segmentation_map()  # a class that is not ADE20K's: ConfigError now, at the server's start
        self._warn = warn or log.warning
        self._warned: set[tuple[int, str]] = set()  # (session id, KIND) told about a missing plane

    def forget(self, session_ids: set[int]) -> None:
        """Drop the warnings of sessions that are gone."""
        self._warned = {w for w in self._warned if w[0] in session_ids}

    @staticmethod
    def kinds(pipeline: Any) -> tuple[str, ...]:
        """The ControlNet KINDs `pipeline` runs (none for a pipeline without ControlNets)."""
        nets = getattr(getattr(pipeline, "control", None), "nets", None)
        return () if nets is None else tuple(nets.names)

    @staticmethod
    def warps(pipeline: Any) -> bool:
        """Whether `pipeline` takes motion planes (`uses_motion` of its config, and a temporal state to set them on)."""
        return hasattr(pipeline, "temporal") and uses_motion(getattr(pipeline, "config", None))

    def used_by(self, pipeline: Any) -> bool:
        """Whether `apply` has anything to do for `pipeline` (ControlNets, or motion for warping or the warped
        attention bank)."""
        return bool(self.kinds(pipeline)) or self.warps(pipeline)

    def touches(self, pipeline: Any, planes: Sequence[Plane]) -> bool:
        """Whether `apply` may change `pipeline` or its recording (a plane or a Canny KIND; for a warping pipeline a
        motion plane, set_motion feeds the next staged frame, or any plane it records): settle it first. A frame
        without planes for ControlNets that take planes only touches nothing (the session keeps overlapping its
        frames' host work with its previous call)."""
        kinds = self.kinds(pipeline)
        moves = self.warps(pipeline) and (any(p.kind is PlaneKind.MOTION for p in planes)
                                          or (bool(planes) and hasattr(pipeline, "record_planes")))  # recorded
        return moves or (bool(kinds) and (bool(planes) or any(kind in CANNY_KINDS for kind in kinds)))

    def apply(self, session_id: int, pipeline: Any, planes: Sequence[Plane], rgb: Any) -> None:
        """Set the control image of each of `pipeline`'s ControlNets from `planes` (or the fallback) before the
        frame `rgb` ((h, w, 3) uint8, numpy or a device tensor) is staged."""
        import torch

        record = getattr(pipeline, "record_planes", None)  # a recorded session (sdbridge.record) keeps them
        if record is not None and planes:
            record(planes)
        device = pipeline.components.device
        if self.warps(pipeline):
            _set_motion(pipeline, planes, device)
        for kind in self.kinds(pipeline):
            plane = _plane_for(kind, planes)
            if plane is not None and not (plane.kind is PlaneKind.NORMALS
                                          and plane.desc.normal_space is not NormalSpace.VIEW):
                pipeline.control.set_image(kind, self._convert(plane, device))
            elif kind in CANNY_KINDS:
                from sdbridge.pipeline.control_planes import canny_control

                pixels = rgb if isinstance(rgb, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(rgb))
                pipeline.control.set_image(kind, canny_control(pixels.to(device)))
            else:
                self._missing(session_id, kind, plane)

    def _missing(self, session_id: int, kind: str, plane: Plane | None) -> None:
        if (session_id, kind) in self._warned:
            return
        self._warned.add((session_id, kind))
        wanted = PLANE_FOR_KIND.get(kind)
        if plane is not None:  # a World-space normals plane
            why = "sent Normals in World space, which cannot be related to the image; send View-space normals"
        elif wanted is None:
            why = f"sent no Control plane named {kind!r}; send Frame.planes with kind Control and name {kind!r}"
        else:
            why = (f"sent no {wanted.name.capitalize()} plane; send Frame.planes with kind {wanted.name.capitalize()}"
                   " and its conventions (schemas/bridge.fbs PlaneDesc)")
        self._warn(f"session {session_id}: ControlNet {kind!r} got no control image from this frame: the client "
                   f"{why}. Until it does, the ControlNet keeps the last image the session sent (none: it is off). "
                   "Said once per session")

    def _convert(self, plane: Plane, device: Any) -> Any:
        """The plane as a control image (1, 3, H, W) float in [0, 1] on `device`."""
        from sdbridge.pipeline import control_planes as cp

        desc, tensor = plane.desc, _tensor(plane.array, device)
        if plane.kind is PlaneKind.DEPTH:
            far = desc.depth_far or math.inf
            if desc.depth_encoding is DepthEncoding.DEVICE:
                return cp.depth_control(tensor, source="device", near=desc.depth_near, far=far,
                                        reversed_z=desc.reversed_z)
            return cp.depth_control(tensor)
        if plane.kind is PlaneKind.NORMALS:
            rgb = tensor[..., :3].permute(2, 0, 1)[None]  # (1, 3, H, W)
            rgb = rgb / 255.0 if desc.format is PlaneFormat.RGBA8 else rgb
            return cp.normal_control(rgb, encoded=desc.normal_encoding is NormalEncoding.UNSIGNED)
        if plane.kind is PlaneKind.SEGMENTATION:
            return cp.segmentation_control(tensor[None], self._segmentation_map())
        grey = tensor[..., None].expand(-1, -1, 3) if tensor.dim() == 2 else tensor[..., :3]  # Control: R8 / RGBA8
        return grey.permute(2, 0, 1)[None].float() / 255.0

    def _segmentation_map(self) -> Any:
        if self._map is None:
            from sdbridge.pipeline import ade20k
            from sdbridge.pipeline.control_planes import SegmentationMap

            mapping = self._segmentation if self._segmentation is not None else {
                i: i for i in range(len(ade20k.CLASSES))}
            self._map = SegmentationMap(mapping)
        return self._map


def _set_motion(pipeline: Any, planes: Sequence[Plane], device: Any) -> None:
    """The frame's Motion plane (and Depth plane) to the pipeline's temporal warp, in its convention."""
    from sdbridge.runtime.motion_planes import depth_tensor, motion_tensor

    motion = next((p for p in planes if p.kind is PlaneKind.MOTION), None)
    if motion is None:
        return
    width, height = pipeline.config.width, pipeline.config.height
    depth = next((p for p in planes if p.kind is PlaneKind.DEPTH), None)
    pipeline.temporal.set_motion(motion_tensor(motion, width, height, device),
                                 None if depth is None else depth_tensor(depth, width, height, device))


def _plane_for(kind: str, planes: Sequence[Plane]) -> Plane | None:
    wanted = PLANE_FOR_KIND.get(kind)
    for plane in planes:
        if wanted is not None and plane.kind is wanted:
            return plane
        if plane.kind is PlaneKind.CONTROL and plane.desc.name == kind:
            return plane
    return None


def _tensor(array: np.ndarray, device: Any) -> Any:
    """A read-only plane view as a torch tensor on `device` (one host copy: torch needs writable memory), in the
    plane's own width where torch has the type: half floats stay half (the conversion to float32 runs on the
    device, after a transfer of half the bytes; numpy's float16 conversion is unvectorised: about 2 ms for a
    512x512 RGBA16F plane on this project's test CPU), unsigned ids are widened to the narrowest signed type that
    holds them (uint16 -> int32, uint32 -> int64)."""
    import torch

    if array.dtype.kind == "u" and array.dtype.itemsize > 1:
        host = array.astype(np.int32 if array.dtype.itemsize == 2 else np.int64)
    else:
        host = np.array(array)
    return torch.from_numpy(host).to(device)
