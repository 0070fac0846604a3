"""The preview page (sdbridge.preview) attached to the server as a SessionObserver: it sees each accepted frame
(with its planes, for the conditioning views) and each sent result (frame taps read by its own thread), tells each
new session its page address, and gets thread-safe snapshots of the sessions. It also tells the page the names of
the served named weights (live LoRA adapters, ControlNet KINDs) with their starting values."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sdbridge import params as sdparams
from sdbridge.config import ServerConfig
from sdbridge.protocol import messages as m
from sdbridge.quantiles import percentile_us
from sdbridge.runtime.sessions import FrameJob, ResultJob, Session, SessionTable
from sdbridge.serving.observers import ServerHooks

log = logging.getLogger(__name__)


class PreviewObserver:
    """Starts the preview page server and feeds it; `host` is what the page calls back (sdbridge.preview.web
    PreviewHost: the BridgeServer)."""

    def __init__(self, config: ServerConfig, table: SessionTable, hooks: ServerHooks) -> None:
        self.config = config
        self.table = table
        self.hooks = hooks
        self.taps: Any = None  # sdbridge.preview.taps.FrameTaps
        self.page: Any = None  # sdbridge.preview.web.PreviewServer
        self.url = ""

    def start(self, host: Any) -> str:
        """Start the page server (its own thread); returns its address."""
        from sdbridge.preview.taps import FrameTaps
        from sdbridge.preview.web import PreviewServer

        self.taps = FrameTaps(self.config.preview.fps)
        kinds = tuple(spec.kind for spec in self.config.model.controlnets())
        conditioning = None
        if kinds:
            from sdbridge.preview.conditioning import ConditioningViews

            conditioning = ConditioningViews(kinds, self.config.model.segmentation_map(),
                                             self.config.preview.max_side)
        self.page = PreviewServer(self.config.preview, host, self.taps, self.config.limits, self.weights(),
                                  conditioning)
        self.url = self.page.start()
        log.info("preview page on %s", self.url)
        return self.url

    def weights(self) -> dict[str, list[tuple[str, float]]]:
        """{named-weights parameter: [(served name, starting value), ...]} (sdbridge.preview.commands.Weights): the
        live LoRA adapters and the ControlNet KINDs; a session's style images are its own (its values)."""
        model = self.config.model
        out = {"lora_weights": [(name, scale) for name, (_, scale) in model.live_loras().items()]}
        specs = model.controlnets()
        if specs:  # (torch is loaded already: the server serves ControlNets)
            from sdbridge.pipeline.controlnet import DEFAULT_END, DEFAULT_START

            out.update({"controlnet_scale": [(spec.kind, spec.scale) for spec in specs],
                        "controlnet_start": [(spec.kind, DEFAULT_START) for spec in specs],
                        "controlnet_end": [(spec.kind, DEFAULT_END) for spec in specs]})
        return out

    def close(self) -> None:
        """Stop the page server (idempotent)."""
        if self.page is not None:
            self.page.close()
            self.page = None

    # ------------------------------------------------------------------ SessionObserver

    def session_opened(self, session: Session) -> None:
        """Tell the client its session's page address (its own session token, never the server-wide one: it
        opens this session only), for editor "Open in browser" buttons. The address travels in the typed
        Notice.preview_url (protocol 1.1) and, for 1.0 clients that read it from the text, as the whole message."""
        if self.page is not None:
            url = self.page.session_url(session.session_id)
            self.hooks.send(session.identity, m.Notice(kind=m.NoticeKind.INFO, source="preview", message=url,
                                                       preview_url=url))

    def session_closed(self, session: Session) -> None:
        """Nothing to do: the page's snapshots stop listing it."""

    def input_accepted(self, session: Session, message: m.Message, frame: FrameJob | None) -> None:
        """Offer an accepted frame's pixels to the page (copied only when a page is watching)."""
        if frame is not None and self.taps is not None:
            self.taps.offer_input(session.session_id, frame.frame_id, frame.layout, frame.payload, frame.keep,
                                  frame.planes)

    def result_sent(self, session: Session, result: ResultJob) -> None:
        """Offer a sent result's pixels to the page."""
        if self.taps is not None:
            self.taps.offer_output(session.session_id, result.frame_id, result.layout, result.pixels)

    def tick(self, now: float, sessions: Sequence[Session]) -> None:
        """Nothing per loop turn (the page samples on its own thread)."""

    # ------------------------------------------------------------------ snapshots for the page

    def sessions(self) -> list[dict[str, Any]]:
        """Snapshot of every live session for the preview page (any thread; copies, never locks the loop)."""
        p = self.config.pipeline
        defaults = {"prompt": p.prompt, "negative_prompt": p.negative_prompt, **sdparams.live_values(p)}
        out = []
        for session in self.table.sessions():
            latencies = list(session.latencies)[-64:]  # list() of a deque copies it atomically (GIL)
            inference = list(session.inference)[-64:]
            out.append({
                "id": session.session_id, "client": session.client.name, "engine": session.client.engine,
                "frames_in": session.stats.frames_received, "frames_out": session.frames_out,
                "skipped": session.skipped, "dropped": session.dropped,
                "latency_p50_ms": percentile_us(latencies, 0.5) / 1e3,
                "latency_p99_ms": percentile_us(latencies, 0.99) / 1e3,
                "inference_p50_ms": percentile_us(inference, 0.5) / 1e3,
                "size": list(session.pipeline_size) if session.pipeline_size else None,
                "values": {**defaults, **dict(session.prompt_values)},
                "events": [name for name, _ in list(session.events)[-8:]],
                "url": self.page.session_url(session.session_id) if self.page is not None else "",
            })
        return out
