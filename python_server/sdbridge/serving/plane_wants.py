"""The plane kinds each session's pipeline uses (protocol 1.4: Welcome.wanted_planes, Notice WantedPlanesChanged).

A session starts with the server's set: its ControlNets' kinds, and Motion while the `[pipeline]` settings use motion
(`motion_warp` > 0, or `attention_bank` > 0 with `attention_bank_warp`: serving.wire_maps.wanted_plane_kinds,
runtime.control_inputs.uses_motion). Each session's own values of those settings are kept once an accepted update
(a client's Params, the preview page, a rules file) sets one; when its set changes (motion warping or the warped bank
turned on or off), the session's client gets a Notice of kind WANTED_PLANES_CHANGED carrying the new set (possibly
empty), so that it starts or stops capturing motion vectors.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from sdbridge.config import ServerConfig
from sdbridge.protocol import messages as m
from sdbridge.runtime.sessions import Session, SessionTable
from sdbridge.serving.wire_maps import PerSession, wanted_plane_kinds

__all__ = ["MOTION_SETTINGS", "PlaneWants"]

#: The pipeline settings whether a session uses Motion planes depends on (runtime.control_inputs.uses_motion)
MOTION_SETTINGS = ("motion_warp", "attention_bank", "attention_bank_warp")


class PlaneWants:
    """Per session wanted plane kinds (I/O thread only)."""

    def __init__(self, config: ServerConfig, table: SessionTable) -> None:
        self._kinds = tuple(spec.kind for spec in config.model.controlnets())
        self._start = {key: getattr(config.pipeline, key) for key in MOTION_SETTINGS}  # every session's at first
        self.initial = wanted_plane_kinds(self._kinds, SimpleNamespace(**self._start))  # every Welcome's
        self._by_session = PerSession(table)  # session id -> (its MOTION_SETTINGS values, its plane kinds) once set

    def of(self, session: Session) -> tuple[m.PlaneKind, ...]:
        """The plane kinds `session`'s pipeline uses now."""
        entry = self._by_session.get(session.session_id)
        return self.initial if entry is None else entry[1]  # type: ignore[no-any-return]

    def changed(self, session: Session, values: Mapping[str, Any]) -> m.Notice | None:
        """After an accepted update `values` of `session`: the Notice to send when its set changed, else None."""
        touched = {key: values[key] for key in MOTION_SETTINGS if key in values}
        if not touched:
            return None
        entry = self._by_session.get(session.session_id)
        settings = {**(self._start if entry is None else entry[0]), **touched}
        wanted = wanted_plane_kinds(self._kinds, SimpleNamespace(**settings))
        before = self.of(session)
        self._by_session[session.session_id] = (settings, wanted)
        if wanted == before:
            return None
        names = ", ".join(kind.name.capitalize() for kind in wanted) or "none"
        return m.Notice(kind=m.NoticeKind.WANTED_PLANES_CHANGED, source="params",
                        message=f"the server now uses these planes: {names}", wanted_planes=wanted)
