"""Decodes a client's message and routes it: Hello to the handshake, a Frame to its session's slot (or the
inline worker), Prompt/Params to the session's pipeline-update queue, GameEvent/State to the session and the
observers, a client's Credit (txt2img requests) to sdbridge.serving.txt2img, StatsRequest/Ping/Bye answered here.

Every message is checked before anything is allocated for it: part count, part size against
limits.max_message_bytes, the FlatBuffers verifier (in the codec), then header fields against the limits.
A refused message gets an Error naming the field and the limit; the session and the server stay up. A Frame's
planes (protocol 1.3, parts 3, 4, ...) need the Planes capability and pass sdbridge.runtime.planes' checks before
they reach the FrameJob as numpy views. Protocol 1.4: a Frame's scene_cut queues the pipeline's scene cut ahead of
it (runtime.updates.SCENE_CUT); a StyleImage becomes a `style_images` update (serving.style_intake); an update that
turns motion warping on or off tells the client the planes now wanted (serving.plane_wants).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import zmq

from sdbridge import params as sdparams
from sdbridge.config import ServerConfig
from sdbridge.errors import BridgeError, FieldError, ProtocolError
from sdbridge.protocol import codec
from sdbridge.protocol import messages as m
from sdbridge.runtime import budgets
from sdbridge.runtime import planes as frame_planes
from sdbridge.runtime.pixels import Layout
from sdbridge.runtime.sessions import FrameJob, PipelineUpdate, Session, SessionTable
from sdbridge.runtime.updates import SCENE_CUT
from sdbridge.runtime.worker import Worker
from sdbridge.serving.handshake import Handshake
from sdbridge.serving.observers import ObserverSet
from sdbridge.serving.outbound import CloseSession, Outbound
from sdbridge.serving.served_names import ServedNames
from sdbridge.serving.stats import stats_reply
from sdbridge.serving.style_intake import StyleIntake
from sdbridge.serving.txt2img import Txt2ImgRequests, frame_refused
from sdbridge.serving.wire_maps import WIRE_FORMATS, WIRE_ROWS

log = logging.getLogger(__name__)

#: Limits for telling which message a refused part was (is it a Frame, that spent a credit?): the size
#: checks that refused it must not hide that it was a Frame.
_PEEK_LIMITS = codec.DecodeLimits(max_width=budgets.U32_MAX, max_height=budgets.U32_MAX,
                                  max_message_bytes=2**62)
_IMAGE_HEADER_ERRORS = {m.ErrorCode.BAD_DIMENSION, m.ErrorCode.TOO_LARGE, m.ErrorCode.BAD_PIXEL_SIZE,
                        m.ErrorCode.UNSUPPORTED_PIXEL_FORMAT, m.ErrorCode.BAD_PARAM}  # codec.validate_image_header


class FrameError(FieldError):
    """A refused Frame: carries the offending field for the Error reply."""


def check_stream(kind: str, stream_id: int) -> None:
    """One stream per session (MultiStream is not offered): a second stream would share the slot."""
    if stream_id != 0:
        raise FrameError(m.ErrorCode.BAD_PARAM, f"{kind}.stream_id",
                         f"{kind}.stream_id={stream_id}: this server serves one stream per session (stream 0; "
                         f"the MultiStream capability is not offered); open one connection per stream")


class Dispatcher:
    """Routes decoded messages to their handlers (I/O thread only)."""

    def __init__(self, config: ServerConfig, table: SessionTable, outbound: Outbound, handshake: Handshake,
                 observers: ObserverSet, close_session: CloseSession) -> None:
        self.config = config
        self.table = table
        self.outbound = outbound
        self.stats = outbound.stats
        self.handshake = handshake
        self.observers = observers
        self.close_session = close_session
        self.worker: Worker | None = None  # set by the server once started
        # CurveZMQ: whether a client key (the ZAP user id of a message) is still on the allow-list; None without
        # CurveZMQ. Deleting a key file ends that client's session at its next message.
        self.key_allowed: Callable[[str], bool] | None = None
        self.inline = False  # True: the worker's turns run on this (the I/O) thread (passthrough model)
        # txt2img sessions (Params.txt2img): their Credit requests, fed to the worker one at a time
        self.txt2img = Txt2ImgRequests(table, outbound, self._model_size)
        self.txt2img.run_inline = self._run_inline
        outbound.answered = self.txt2img.feed
        lim = config.limits
        self._limits = codec.DecodeLimits(max_width=lim.max_width, max_height=lim.max_height,
                                          max_message_bytes=lim.max_message_bytes,
                                          max_text_chars=lim.max_text_chars, max_planes=lim.max_planes)
        self.styles = StyleIntake(lim, self._limits, table,  # StyleImage messages (protocol 1.4)
                                  offered=bool(handshake.capabilities & m.Capability.STYLE_IMAGES))
        # the live LoRAs, ControlNets and IP-Adapter an update may name; None until the model is known (the server
        # sets it from ModelDescription.names once loaded), or for a model that does not say
        self.served_names: ServedNames | None = None

    # ------------------------------------------------------------------ decode and route

    def handle(self, identity: bytes, parts: list[zmq.Frame]) -> None:
        """Decode one received message and handle it; every outcome is an accepted message or an Error."""
        session = self.table.get(identity)
        if self.key_allowed is not None and parts and self._revoked(identity, session, parts[0]):
            return
        if session is not None:
            session.last_seen = time.monotonic()  # any message is a heartbeat
        rejected_before = self.stats.rejected_total
        message: m.Message | None = None
        try:
            message, pixels = codec.decode_multipart(parts, self._limits)  # Frames export their bytes
            self.dispatch(identity, session, message, pixels, parts)
            if self.stats.rejected_total == rejected_before:
                self.stats.accepted += 1
        except ProtocolError as exc:
            code = m.ErrorCode(exc.code)
            was_frame, frame_id = self.refused_frame(parts)  # only on this error path: which frame was refused?
            field_name = getattr(exc, "field_name", "")
            self.outbound.error(identity, code, str(exc), field_name, frame_id)
            # a refused Frame gives its credit back (the client spent one to send it); nothing else does
            if session is not None and not session.closed and code is not m.ErrorCode.NO_CREDIT and was_frame:
                self.outbound.give_credit(session, 1)
        except BridgeError as exc:
            self.outbound.error(identity, m.ErrorCode.BAD_PARAM, str(exc))
        except Exception as exc:  # a bug of ours: report it, keep the session and the server up
            self.outbound.internal(session, identity,
                                   f"handling a {type(message).__name__ if message else 'message'}", exc)

    def _revoked(self, identity: bytes, session: Session | None, first: zmq.Frame) -> bool:
        """CurveZMQ: refuse (and end the session of) a client whose key was removed from authorized_keys."""
        assert self.key_allowed is not None
        key = first.get("User-Id")
        if self.key_allowed(key):
            return False
        self.outbound.error(identity, m.ErrorCode.SESSION_EXPIRED,
                            f"this client's key {key[:8]}... was removed from security.authorized_keys; the "
                            "server no longer serves it (put its NAME.key file back to allow it again)",
                            session_closed=session is not None)
        if session is not None:
            self.close_session(session, "client key revoked (removed from authorized_keys)")
        return True

    def refused_frame(self, parts: list[zmq.Frame]) -> tuple[bool, int | None]:
        """Was a refused message a Frame (which spent a credit), and its frame id when readable.

        Decoded without the size limits (they may be what refused it); a two-part message whose header
        fails only the image-header checks (only Frame and Result have one) was a Frame too.
        """
        if not parts:
            return False, None
        if codec.peek_type(parts[0].buffer) not in (None, m.MessageType.FRAME, m.MessageType.RESULT):
            return False, None  # not an image header: never decode a refused body again (it may be costly)
        try:
            header = codec.decode(parts[0].buffer, _PEEK_LIMITS)
        except ProtocolError as exc:
            return len(parts) >= 2 and exc.code in _IMAGE_HEADER_ERRORS, None  # (a Frame's planes: more parts)
        if isinstance(header, m.FrameHeader):
            return True, header.frame_id
        return False, None

    def dispatch(self, identity: bytes, session: Session | None, message: m.Message,
                 pixels: memoryview | None, parts: list[zmq.Frame]) -> None:
        """Route one decoded message (raises ProtocolError/BridgeError for a refused one)."""
        if isinstance(message, m.Hello):
            self.handshake.on_hello(identity, session, message)
            return
        if session is None:
            self.outbound.error(identity, m.ErrorCode.NOT_HELLO,
                                f"no session for this connection (a new one, e.g. moved here by a load balancer "
                                f"from another replica, or one whose session expired): the first message must be "
                                f"Hello, got {type(message).__name__}; send Hello (BridgeClient and the engine "
                                f"plugins do so by themselves)",
                                "Envelope.body")
            return
        if isinstance(message, m.FrameHeader):
            assert pixels is not None  # decode_multipart guarantees the pixel part of a Frame
            self.on_frame(session, message, pixels, parts)
            return
        if isinstance(message, m.Prompt):
            self.on_prompt(session, message)
        elif isinstance(message, m.Params):
            self.on_params(session, message)
        elif isinstance(message, m.GameEvent):
            self.on_event(session, message)
        elif isinstance(message, m.State):
            self.on_state(session, message)
        elif isinstance(message, m.StatsRequest):
            self.outbound.send(identity, stats_reply(session, message.request_id))
        elif isinstance(message, m.Ping):
            self.outbound.send(identity, m.Pong(nonce=message.nonce, client_time_us=message.client_time_us,
                                                server_time_us=int(time.time() * 1e6)))
        elif isinstance(message, m.Credit):
            self.txt2img.on_credit(session, message)
        elif isinstance(message, m.StyleImage):
            # (no parts: the preview page's upload for this session, which needs no client capability)
            self.queue_update(session, self.styles.accept(session, message, pixels, from_client=bool(parts)))
        elif isinstance(message, m.Bye):
            self.close_session(session, f"bye ({message.reason or 'no reason'})")
            return
        else:
            raise ProtocolError(m.ErrorCode.UNKNOWN_TYPE,
                                f"the server does not accept {type(message).__name__} from clients; "
                                f"clients send Hello, Frame, Prompt, Params, GameEvent, State, StatsRequest, "
                                f"Ping, Credit (txt2img), StyleImage or Bye")
        # after handling: a refused message raised above and reaches no observer
        self.observers.input_accepted(session, message)

    # ------------------------------------------------------------------ frames

    def on_frame(self, session: Session, header: m.FrameHeader, pixels: memoryview, parts: list[zmq.Frame]) -> None:
        """A Frame whose header, limits, pixel and plane sizes the codec already checked."""
        fid = header.frame_id
        session.last_frame_at = time.monotonic()  # limits.idle_session_s counts from the last Frame
        check_stream("Frame", header.stream_id)
        if session.txt2img:
            raise frame_refused(session, fid)
        fmt = WIRE_FORMATS[header.pixel_format]  # validate_image_header refused any other format
        rows = WIRE_ROWS[header.row_order]
        if not session.has_credit():
            raise FrameError(m.ErrorCode.NO_CREDIT, "Frame",
                             f"Frame {fid} arrived with {session.in_flight} frames in flight and "
                             f"credits={session.credits}; wait for a Result or Credit before sending")
        planes = self.frame_planes(session, header, parts) if header.planes else ()  # after the credit check
        if header.scene_cut:  # protocol 1.4: the temporal state is reset before this frame (queued ahead of it)
            self.queue_update(session, {SCENE_CUT: True})
        layout = Layout(header.width, header.height, header.stride, fmt, rows)
        inline = self.inline and self.worker is not None
        job = FrameJob(fid, header.stream_id, layout, pixels, time.perf_counter(), header.capture_time_us,
                       keep=parts[1], taken=None if inline else threading.Event(), client_send_us=header.send_time_us,
                       planes=planes)
        # observers see the frame before it is counted (rules effects timed in frames end before the frame that
        # reaches their end; their pipeline changes are queued ahead of it)
        self.observers.input_accepted(session, header, job)
        session.frame_taken()
        if inline:  # the passthrough model: answered now, on this thread (a failure goes through the outbox)
            assert self.worker is not None
            result = self.worker.run_now(session, job)
            if result is not None:
                session.credit_returned()
                self.outbound.deliver(session, result)
            return
        replaced = self.table.submit_frame(session, job)
        if replaced is not None:  # latest wins: the older frame is dropped, its credit comes back
            session.credit_returned()
            self.outbound.give_credit(session, 1)
        elif self.worker is not None:
            self.worker.hand_over(job)

    def frame_planes(self, session: Session, header: m.FrameHeader,
                     parts: list[zmq.Frame]) -> tuple[frame_planes.Plane, ...]:
        """A Frame's planes as numpy views, once the session may send them and they pass the server's checks."""
        if not session.capabilities & m.Capability.PLANES:
            raise FrameError(m.ErrorCode.BAD_PARAM, "Frame.planes",
                             f"Frame {header.frame_id} carries {len(header.planes)} planes but session "
                             f"{session.session_id} did not negotiate the Planes capability; offer "
                             f"Capability.PLANES in Hello (and check Welcome.capabilities) or send no planes")
        return frame_planes.from_wire(header.planes, codec.plane_parts(parts))  # (the views keep their parts alive)

    # ------------------------------------------------------------------ control messages

    def _model_size(self) -> tuple[int, int]:
        """The model's (width, height): the size of generated (txt2img) frames."""
        model = self.handshake.model
        assert model is not None  # sessions open only once the model is loaded
        return model.width, model.height

    def _run_inline(self, session: Session, job: FrameJob) -> bool:
        """Answer a txt2img request at once on this thread (the passthrough model); False when not inline."""
        if not self.inline or self.worker is None:
            return False
        result = self.worker.run_now(session, job)
        if result is not None:
            session.credit_returned()
            self.outbound.deliver(session, result)
        return True

    def check_text(self, name: str, text: str) -> None:
        """A text within limits.max_text_chars."""
        limit = self.config.limits.max_text_chars
        if len(text) > limit:
            raise ProtocolError(m.ErrorCode.TOO_LARGE,
                                f"{name} has {len(text)} characters, above limits.max_text_chars={limit}")

    def check_event_rate(self, session: Session, kind: str) -> None:
        """GameEvent and State together within limits.max_events_per_second (one second of burst)."""
        rate = self.config.limits.max_events_per_second
        if not session.take_event_token(float(rate), time.monotonic()):
            raise ProtocolError(m.ErrorCode.TOO_LARGE,
                                f"{kind} refused: session {session.session_id} sends GameEvent/State faster than "
                                f"limits.max_events_per_second={rate}; send fewer (coalesce state changes per "
                                f"frame)")

    def on_event(self, session: Session, event: m.GameEvent) -> None:
        """Keep a GameEvent among the session's recent ones (the observers see it next)."""
        self.check_event_rate(session, "GameEvent")
        self.check_text("GameEvent.name", event.name)
        lim = self.config.limits
        session.add_event(event.name, dict(event.payload), lim.max_event_payload_bytes, lim.max_recent_events)
        session.stats.events_received += 1

    def on_state(self, session: Session, state: m.State) -> None:
        """Merge State entries into the session's state (the observers see them next)."""
        self.check_event_rate(session, "State")
        for key, _value in state.entries:
            self.check_text("State.entries.key", key)
        session.merge_state(state.entries, state.replace_all, self.config.limits.max_state_bytes)

    def on_prompt(self, session: Session, prompt: m.Prompt) -> None:
        """Queue a prompt change (text or weighted blend, negative prompt, interpolation, transition)."""
        check_stream("Prompt", prompt.stream_id)
        values: dict[str, Any] = {}
        if prompt.blend:
            for entry in prompt.blend:
                self.check_text("Prompt.blend.text", entry.text)
            values["prompt"] = [(entry.text, float(entry.weight)) for entry in prompt.blend]
        else:
            self.check_text("Prompt.text", prompt.text)
            values["prompt"] = prompt.text
        self.check_text("Prompt.negative", prompt.negative)
        values["negative_prompt"] = prompt.negative
        if prompt.method is m.BlendMethod.SLERP or prompt.method is m.BlendMethod.LINEAR:
            from sdbridge.pipeline import Interpolation  # server may import the pipeline (no torch work)

            values["prompt_interpolation"] = (Interpolation.SLERP if prompt.method is m.BlendMethod.SLERP
                                              else Interpolation.LINEAR)
        budgets.check_transition(prompt.transition_frames, prompt.transition_seconds)
        self.queue_update(session, values, prompt.transition_frames, prompt.transition_seconds)

    def on_params(self, session: Session, params: m.Params) -> None:
        """Queue the parameters a Params message sets."""
        check_stream("Params", params.stream_id)
        values = sdparams.update_values(params)  # Params field -> pipeline keyword, from the registry
        if not values:
            raise ProtocolError(m.ErrorCode.BAD_PARAM, "Params.set_mask is 0: no parameter to change")
        self.queue_update(session, values)  # txt2img too: the pipeline generates from the prompt from then on
        if "txt2img" in values:
            self.txt2img.switch(session, values["txt2img"])

    def queue_update(self, session: Session, values: dict[str, Any], transition_frames: int = 0,
                     transition_seconds: float = 0.0, easing: Callable[[float], float] | None = None,
                     source: str = "") -> None:
        """Queue a pipeline update after the budget and wire-type checks (every source: client, page, rules)."""
        budgets.check_pipeline_values(values, self.config.limits, source)
        if self.served_names is not None:  # a name the served model lacks: refused here, nothing queued
            self.served_names.check(values, source)
        update = PipelineUpdate(values, transition_frames, transition_seconds, easing)
        if not self.table.submit_update(session, update):
            raise ProtocolError(m.ErrorCode.TOO_LARGE,
                                f"session {session.session_id} has {session.updates.capacity} pipeline updates "
                                f"pending; send fewer Prompt/Params messages")
        notice = self.handshake.plane_wants.changed(session, values)  # e.g. motion_warp turned on: Motion wanted
        if notice is not None and session.capabilities & m.Capability.NOTICES:
            self.outbound.send(session.identity, notice)
        if self.inline and self.worker is not None:
            self.worker.serve(session)  # applies the update now, in arrival order
