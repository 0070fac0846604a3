"""Wire pixel enums <-> runtime pixel enums (the one mapping between sdbridge.protocol and sdbridge.runtime), and the
plane kinds a server's configuration wants (Welcome/Notice.wanted_planes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sdbridge.protocol import messages as m
from sdbridge.runtime.pixels import PixelFormat, RowOrder

WIRE_FORMATS: dict[m.PixelFormat, PixelFormat] = {
    m.PixelFormat.RGBA8: PixelFormat.RGBA8,
    m.PixelFormat.BGRA8: PixelFormat.BGRA8,
    m.PixelFormat.RGB8: PixelFormat.RGB8,
}
WIRE_ROWS: dict[m.RowOrder, RowOrder] = {
    m.RowOrder.TOP_DOWN: RowOrder.TOP_DOWN,
    m.RowOrder.BOTTOM_UP: RowOrder.BOTTOM_UP,
}
RUNTIME_FORMATS = {v: k for k, v in WIRE_FORMATS.items()}
RUNTIME_ROWS = {v: k for k, v in WIRE_ROWS.items()}


class PerSession(dict[int, Any]):
    """Values kept per live session, by session id (Session objects are not hashable); entries of closed sessions
    are dropped whenever the dict outgrows twice the sessions open (I/O thread only)."""

    def __init__(self, table: Any) -> None:
        super().__init__()
        self._table = table  # a runtime.sessions.SessionTable

    def __setitem__(self, session_id: int, value: Any) -> None:
        super().__setitem__(session_id, value)
        if len(self) > 2 * max(1, len(self._table)):
            live = {s.session_id for s in self._table.sessions()}
            for stale in [k for k in self if k not in live]:
                del self[stale]


def wanted_plane_kinds(controlnet_kinds: Sequence[str], settings: Any) -> tuple[m.PlaneKind, ...]:
    """Welcome/Notice.wanted_planes (protocol 1.4): the plane kinds a server with ControlNets `controlnet_kinds`
    uses (depth, normals, segmentation for their KINDs, a Control plane named KIND for the others) and Motion while
    the pipeline settings `settings` use motion (runtime.control_inputs.uses_motion: motion warping on, or the
    attention bank on and warped), in PlaneKind order."""
    from sdbridge.runtime.control_inputs import PLANE_FOR_KIND, uses_motion

    kinds = {PLANE_FOR_KIND.get(kind, m.PlaneKind.CONTROL) for kind in controlnet_kinds}
    if uses_motion(settings):
        kinds.add(m.PlaneKind.MOTION)
    return tuple(sorted(kinds))
