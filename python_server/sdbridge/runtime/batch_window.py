"""How long the worker waits for the frames of a shared UNet call (ModelConfig.share_unet_batch) while the call
before it runs.

Every streaming client sends its next frame when a result comes back, a few milliseconds after the worker
published it. Formed at once, the next shared call (the lane holds one running call and one ready to start)
never holds the frames of the sessions whose results just went back: they join the call after it. With two
credits per client the sessions then fall into groups that meet the calls in a fixed cycle, and some
sessions are in two calls of every three while the others are in one: half the rate (seen in the load tests,
slowest/mean 0.57). So, while a call runs, the worker waits for the sessions that usually answer within the
window (their think time, learnt by FairShare) before it forms the next call; it stops waiting when they all
have a frame, when the running call finishes, or when the window closes. The window is half the typical
call's duration (the ready call still has the other half for its host work) and at most MAX_WAIT_S. The
device never idles for it: nothing waits while no call runs.
"""

from __future__ import annotations

#: The longest wait for a shared call's frames (seconds), whatever the calls take.
MAX_WAIT_S = 0.05

#: The share of a typical call's duration the next call's frames may be waited for.
SHARE_OF_CALL = 0.5


class BatchWindow:
    """The window of the next shared call: learns how long calls take; not thread-safe (the worker's alone)."""

    def __init__(self, max_wait_s: float = MAX_WAIT_S, share_of_call: float = SHARE_OF_CALL) -> None:
        self.max_wait_s = max_wait_s
        self.share_of_call = share_of_call
        self._call_s: float | None = None  # moving average of the calls' device seconds

    def call_took(self, seconds: float) -> None:
        """A call finished after `seconds` on the device."""
        old = self._call_s
        self._call_s = seconds if old is None else 0.75 * old + 0.25 * seconds

    @property
    def seconds(self) -> float:
        """How long the frames of the next call may be waited for (0 until a call was timed)."""
        if self._call_s is None:
            return 0.0
        return min(self.max_wait_s, self.share_of_call * self._call_s)
