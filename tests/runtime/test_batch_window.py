"""The window in which the worker gathers a shared call's frames (runtime.batch_window) and the sessions it
waits for (FairShare.answering). The load test (tests/reliability/test_load.py, tiny model) measures what they
are for: every session in every shared call, slowest/mean at least 0.8."""

from __future__ import annotations

import pytest

from sdbridge.runtime.batch_window import MAX_WAIT_S, BatchWindow
from sdbridge.runtime.queues import FairShare


def test_window_is_half_a_typical_call_and_capped() -> None:
    window = BatchWindow()
    assert window.seconds == 0.0  # no call timed yet: nothing is waited for
    window.call_took(0.02)
    assert window.seconds == pytest.approx(0.01)
    for _ in range(40):
        window.call_took(0.8)  # a CPU call of 8 samples
    assert window.seconds == MAX_WAIT_S


def test_waits_only_for_quick_clients_whose_result_just_went_back() -> None:
    share = FairShare()
    share.order([1, 2, 3, 4])
    for key, think in ((1, 0.004), (2, 0.004), (3, 0.033)):  # 3: a game sending at its own pace
        share.published(key, 10.0)
        share.arrived(key, 10.0 + think)
    for key in (1, 2, 3):
        share.published(key, 20.0)
    assert share.answering([1, 2, 3, 4], 0.01, 20.002) == [1, 2]  # 4: nothing learnt about it
    assert share.answering([1, 2, 3, 4], 0.01, 20.02) == []  # the results went back too long ago
    share.arrived(1, 20.003)  # 1's frame came: its result is no longer waiting for an answer
    assert share.answering([1, 2], 0.01, 20.004) == [2]
