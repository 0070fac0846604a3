"""The plane kinds each session's pipeline uses (protocol 1.4: Welcome.wanted_planes, Notice WantedPlanesChanged).

A session starts with the server's set: its ControlNets' kinds, and Motion while `[pipeline] motion_warp` > 0
(serving.wire_maps.wanted_plane_kinds). When an accepted update of that session (a client's Params, the preview page,
a rules file) turns motion warping on or off, its set changes and the session's client gets a Notice of kind
WANTED_PLANES_CHANGED carrying the new set (possibly empty), so that it starts or stops capturing motion vectors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sdbridge.config import ServerConfig
from sdbridge.protocol import messages as m
from sdbridge.runtime.sessions import Session, SessionTable
from sdbridge.serving.wire_maps import PerSession, wanted_plane_kinds

__all__ = ["PlaneWants"]


class PlaneWants:
    """Per session wanted plane kinds (I/O thread only)."""

    def __init__(self, config: ServerConfig, table: SessionTable) -> None:
        self._kinds = tuple(spec.kind for spec in config.model.controlnets())
        self.initial = wanted_plane_kinds(self._kinds, config.pipeline.motion_warp)  # every Welcome's
        self._by_session = PerSession(table)  # session id -> its plane kinds once they differ from `initial`

    def of(self, session: Session) -> tuple[m.PlaneKind, ...]:
        """The plane kinds `session`'s pipeline uses now."""
        return self._by_session.get(session.session_id, self.initial)  # type: ignore[no-any-return]

    def changed(self, session: Session, values: Mapping[str, Any]) -> m.Notice | None:
        """After an accepted update `values` of `session`: the Notice to send when its set changed, else None."""
        if "motion_warp" not in values:
            return None
        wanted = wanted_plane_kinds(self._kinds, float(values["motion_warp"]))
        if wanted == self.of(session):
            return None
        self._by_session[session.session_id] = wanted
        names = ", ".join(kind.name.capitalize() for kind in wanted) or "none"
        return m.Notice(kind=m.NoticeKind.WANTED_PLANES_CHANGED, source="params",
                        message=f"the server now uses these planes: {names}", wanted_planes=wanted)
