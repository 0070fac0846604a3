"""Server-wide counters, percentiles over a session's recent timings, and the Stats reply."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sdbridge.protocol import messages as m
from sdbridge.quantiles import percentile_us
from sdbridge.runtime.sessions import Session


@dataclass
class ServerStats:
    """Server-wide counters (per-session ones live in Session and Session.stats)."""

    rejected: dict[str, int] = field(default_factory=dict)  # ErrorCode name -> count
    rejected_total: int = 0  # sum of `rejected`
    accepted: int = 0  # messages handled without an Error (accepted + rejected_total = messages handled)
    sessions_opened: int = 0
    sessions_expired: int = 0
    sessions_not_reading: int = 0  # closed because their send queue hit ServerConfig.send_hwm (results unread)
    sessions_idle: int = 0  # freed after limits.idle_session_s without a Frame
    internal_errors: int = 0  # exceptions of ours caught around one session's work (each logged once)

    def count(self, code: m.ErrorCode) -> None:
        """Count one refused message."""
        self.rejected[code.name] = self.rejected.get(code.name, 0) + 1
        self.rejected_total += 1


def stats_reply(session: Session, request_id: int) -> m.Stats:
    """The Stats message answering a session's StatsRequest."""
    uptime = time.monotonic() - session.created_at
    return m.Stats(
        request_id=request_id,
        session_id=session.session_id,
        frames_in=session.stats.frames_received,
        frames_out=session.frames_out,
        frames_dropped=session.dropped,
        frames_skipped=session.skipped,
        fps_in=session.stats.frames_received / uptime if uptime > 0 else 0.0,
        fps_out=session.frames_out / uptime if uptime > 0 else 0.0,
        latency_p50_us=percentile_us(session.latencies, 0.5),
        latency_p99_us=percentile_us(session.latencies, 0.99),
        inference_p50_us=percentile_us(session.inference, 0.5),
        uptime_s=uptime,
    )
