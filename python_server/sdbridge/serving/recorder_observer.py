"""The recorder (sdbridge.record, `--record FOLDER`) attached to the server as a SessionObserver: one recording
per session, with the engine inputs the server accepted; the worker wraps each session's pipeline with `wrap`
so that every pipeline call is recorded too. Nothing here raises into the server (see Recorder)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sdbridge import params as sdparams
from sdbridge.config import ServerConfig
from sdbridge.protocol import messages as m
from sdbridge.runtime.sessions import FrameJob, ResultJob, Session


class RecorderObserver:
    """Checks the record folder (an unusable one raises ConfigError, stopping the start) and records sessions."""

    def __init__(self, folder: str, config: ServerConfig) -> None:
        from sdbridge.record.format import RecordLimits
        from sdbridge.record.recorder import Recorder

        mc = config.model
        dtype = mc.resolved_dtype(config.accel.backend.value)[0].value  # what the model runs in, as serve logs it
        # the served ControlNets and id map, one entry a line (meta.json's model holds names and numbers only), and
        # its IP-Adapter's SOURCE[@SCALE] ("" for none; sdbridge.record.ip_adapter loads it for a replay)
        self.recorder = Recorder(folder, {"name": mc.name, "device": mc.device, "dtype": dtype, "width": mc.width,
                                          "height": mc.height, "controlnet": "\n".join(mc.controlnet),
                                          "segmentation": "\n".join(mc.segmentation),
                                          "ip_adapter": mc.ip_adapter.strip()},
                                 RecordLimits.from_config(config.limits))

    def wrap(self, session: Session, pipeline: Any) -> Any:
        """The session's pipeline, wrapped so that its calls are recorded (worker thread)."""
        return self.recorder.wrap(session.session_id, pipeline)

    def close(self) -> None:
        """Finish every recording (server shutdown)."""
        self.recorder.close_all()

    # ------------------------------------------------------------------ SessionObserver

    def session_opened(self, session: Session) -> None:
        """Start this session's recording."""
        c = session.client
        self.recorder.open(session.session_id, {"client": c.name, "client_version": c.version,
                                                "engine": c.engine}, lambda: session.stats.frames_received)

    def session_closed(self, session: Session) -> None:
        """Pack this session's recording."""
        self.recorder.close(session.session_id)

    def input_accepted(self, session: Session, message: m.Message, frame: FrameJob | None) -> None:
        """Note an engine input the server accepted (frames are recorded by the pipeline wrapper)."""
        sid = session.session_id
        note = self.recorder.note
        if isinstance(message, m.GameEvent):
            note(sid, "event", name=message.name, payload=dict(message.payload), frame_id=message.frame_id)
        elif isinstance(message, m.State):
            note(sid, "state", entries=dict(message.entries), replace_all=message.replace_all)
        elif isinstance(message, m.Prompt):
            note(sid, "prompt", text=message.text, negative=message.negative,
                 blend=[(b.text, b.weight) for b in message.blend or ()],
                 transition_frames=message.transition_frames, transition_seconds=message.transition_seconds)
        elif isinstance(message, m.Params):
            note(sid, "params", **sdparams.recorder_values(message))  # registry recorder keys

    def result_sent(self, session: Session, result: ResultJob) -> None:
        """Nothing: outputs are recorded by the pipeline wrapper."""

    def tick(self, now: float, sessions: Sequence[Session]) -> None:
        """Nothing per loop turn."""
