"""Latest-wins slot and bounded FIFO."""

from __future__ import annotations

import threading

import pytest

from sdbridge.errors import ConfigError
from sdbridge.runtime.queues import BoundedFifo, LatestSlot


def test_latest_slot_keeps_newest_and_counts_drops() -> None:
    slot: LatestSlot[int] = LatestSlot()
    assert slot.take() is None
    assert slot.put(1) is None
    assert slot.put(2) == 1
    assert slot.put(3) == 2
    assert slot.dropped == 2
    assert slot.pending
    assert slot.take() == 3
    assert not slot.pending
    assert slot.take() is None
    assert slot.put_count == 3


def test_latest_slot_clear_is_not_a_drop() -> None:
    slot: LatestSlot[str] = LatestSlot()
    slot.put("a")
    assert slot.clear() == "a"
    assert slot.dropped == 0


def test_latest_slot_concurrent_puts_account_for_every_item() -> None:
    slot: LatestSlot[int] = LatestSlot()
    taken: list[int] = []

    def producer(base: int) -> None:
        for i in range(2000):
            slot.put(base + i)

    def consumer() -> None:
        for _ in range(4000):
            item = slot.take()
            if item is not None:
                taken.append(item)

    threads = [threading.Thread(target=producer, args=(b,)) for b in (0, 100_000)]
    threads.append(threading.Thread(target=consumer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    rest = slot.take()
    total = len(taken) + slot.dropped + (1 if rest is not None else 0)
    assert total == 4000


def test_bounded_fifo_order_and_rejects() -> None:
    fifo: BoundedFifo[int] = BoundedFifo(2)
    assert fifo.put(1) and fifo.put(2)
    assert not fifo.put(3)
    assert fifo.rejected == 1
    assert len(fifo) == 2
    assert fifo.get() == 1
    assert fifo.drain() == [2]
    assert fifo.get() is None


def test_bounded_fifo_capacity_error_names_value() -> None:
    with pytest.raises(ConfigError, match="capacity=0"):
        BoundedFifo(0)
