"""Hello -> Welcome: the protocol and capability check, the session's opening and the Welcome it gets.

Protocol 1.4: the Welcome carries the replica's capacity (sessions_open, this one included, of sessions_max: a full
replica refuses the Hello with SessionLimit and a retry hint instead) and the plane kinds the server uses
(wanted_planes; serving.plane_wants). A client of an older minor gets the wanted planes as text in the warning.
"""

from __future__ import annotations

import logging

from sdbridge import __version__
from sdbridge.config import ProcessingSize, ServerConfig
from sdbridge.protocol import handshake
from sdbridge.protocol import messages as m
from sdbridge.protocol.version import PROTOCOL_MAJOR, PROTOCOL_MINOR
from sdbridge.runtime.control_inputs import wanted_planes
from sdbridge.runtime.sessions import ClientInfo, Session, SessionLimitError, SessionTable
from sdbridge.served_model import ModelDescription
from sdbridge.serving.drain import DRAINING_HINT, Drain
from sdbridge.serving.observers import ObserverSet
from sdbridge.serving.outbound import Outbound
from sdbridge.serving.plane_wants import PlaneWants
from sdbridge.serving.wire_maps import WIRE_FORMATS

log = logging.getLogger(__name__)

#: What this server always implements (Welcome.capabilities is the intersection with the client's); GAME_EVENTS
#: is offered on top only while a rules file turns GameEvent/State into prompts (Handshake.offer).
SERVER_CAPABILITIES = (m.Capability.CREDITS | m.Capability.STATS | m.Capability.HEARTBEAT
                       | m.Capability.PROMPT_BLEND | m.Capability.SEED_BLEND
                       | m.Capability.NOTICES  # Notice: preview page changes and the page address
                       | m.Capability.TXT2IMG)  # Params.txt2img: generated frames asked for with Credit


def no_credits(hello: m.Hello) -> str:
    """The refusal of a Hello that does not offer the Credits capability."""
    return (f"Hello.capabilities={int(hello.capabilities):#x} lacks CREDITS: this server paces frames by credits "
            f"(Welcome.initial_credits, one back with each Result or Credit) and serves only clients that honour "
            f"them; upgrade the client (the sdbridge Python, Unity and Unreal clients offer CREDITS)")


class Handshake:
    """Answers a Hello: opens a session and sends its Welcome, or refuses with an Error."""

    def __init__(self, config: ServerConfig, table: SessionTable, outbound: Outbound,
                 observers: ObserverSet) -> None:
        self.config = config
        self.table = table
        self.outbound = outbound
        self.observers = observers
        self.model: ModelDescription | None = None  # set once the model is loaded
        self.capabilities = SERVER_CAPABILITIES  # what this server offers; optional parts add theirs (offer)
        if config.limits.max_planes:  # Frame.planes (protocol 1.3): depth, normals, ... after the pixels
            self.capabilities |= m.Capability.PLANES
        if config.model.ip_adapter_spec() is not None and config.limits.max_style_images:  # protocol 1.4
            self.capabilities |= m.Capability.STYLE_IMAGES
        self.drain: Drain | None = None  # set by the server: a draining replica opens no session
        # the planes the served ControlNets want: Welcome.wanted_planes (1.4), the warning's text for older clients
        self.plane_wants = PlaneWants(config, table)
        self.planes_note = wanted_planes([spec.kind for spec in config.model.controlnets()])

    def offer(self, capabilities: m.Capability) -> None:
        """Offer `capabilities` too from the next Hello on (e.g. GAME_EVENTS once a rules file is loaded)."""
        self.capabilities |= capabilities

    def on_hello(self, identity: bytes, session: Session | None, hello: m.Hello) -> None:
        """Open a session for `identity` and welcome it, or refuse the Hello (the connection stays usable)."""
        out = self.outbound
        if session is not None:
            out.error(identity, m.ErrorCode.ALREADY_CONNECTED,
                      f"this connection already has session {session.session_id}; send Bye before a new "
                      f"Hello, or use a new socket", "Hello")
            return
        decision = handshake.check_hello(hello, server_capabilities=self.capabilities,
                                         server_pixel_formats=tuple(WIRE_FORMATS))
        if not decision.accepted:
            assert decision.error is not None
            out.stats.count(decision.error.code)
            out.send(identity, decision.error)
            return
        if not hello.capabilities & m.Capability.CREDITS:
            out.error(identity, m.ErrorCode.BAD_PARAM, no_credits(hello), "Hello.capabilities", session_closed=True)
            return
        if decision.warning:
            log.warning("client %r: %s", hello.client_name, decision.warning)
        if self.drain is not None and self.drain.active:
            out.error(identity, m.ErrorCode.SESSION_LIMIT, DRAINING_HINT, "Hello", session_closed=True)
            return
        try:
            session = self.table.open(identity, ClientInfo(hello.client_name, hello.client_version,
                                                           hello.engine_name, hello.protocol_major,
                                                           hello.protocol_minor),
                                      credits=self.config.session.credits)
        except SessionLimitError as exc:
            out.error(identity, m.ErrorCode.SESSION_LIMIT, str(exc), "limits.max_sessions", session_closed=True)
            return
        session.capabilities = decision.capabilities  # what this session may use (e.g. Frame.planes)
        out.stats.sessions_opened += 1
        warning = "; ".join(w for w in (decision.warning, self.planes_note if hello.protocol_minor < 4 else "") if w)
        out.send(identity, self.welcome(session, decision.capabilities, decision.pixel_formats, warning))
        self.observers.session_opened(session)
        engine = " ".join(part for part in (hello.engine_name, hello.engine_version) if part) or "no engine named"
        log.info("session %d opened for %r (%s, protocol %d.%d)", session.session_id, hello.client_name, engine,
                 hello.protocol_major, hello.protocol_minor)

    def welcome(self, session: Session, capabilities: m.Capability, pixel_formats: tuple[m.PixelFormat, ...],
                warning: str) -> m.Welcome:
        """The Welcome of a newly opened session."""
        model = self.model
        assert model is not None
        lim = self.config.limits
        resize_note = ""
        if not model.passthrough and self.config.model.processing_size is ProcessingSize.MODEL:
            resize_note = (f"frames of another size than the model's {model.width}x{model.height} "
                           f"are resized to it, and results back to the frame's size")
        return m.Welcome(
            session_id=session.session_id,
            protocol_major=PROTOCOL_MAJOR,
            protocol_minor=PROTOCOL_MINOR,
            server_version=__version__,
            capabilities=capabilities,
            initial_credits=self.config.session.credits,
            max_width=lim.max_width,
            max_height=lim.max_height,
            max_message_bytes=lim.max_message_bytes,
            latency_frames=model.latency_frames,
            model=m.ModelInfo(model.name, model.family, model.width, model.height),
            heartbeat_interval_ms=self.config.session.heartbeat_interval_ms,
            pixel_formats=pixel_formats,
            warning="; ".join(w for w in (warning, resize_note) if w),
            sessions_open=len(self.table),
            sessions_max=self.table.max_sessions,
            wanted_planes=self.plane_wants.of(session),
        )
