"""Thread-safe queues of the runtime: a latest-wins slot and a bounded FIFO.

`LatestSlot` holds at most one item: putting a new item replaces the old one and counts it as dropped.
That is the per-session frame queue: a game never wants the worker to render a stale frame, and it must
never back up (upstream StreamDiffusion's "latest data" queue returned the *oldest* frame of an unbounded
queue, adding seconds of latency).

`BoundedFifo` keeps order and refuses (and counts) items beyond its capacity; control messages use it so
a flood of prompt changes cannot grow memory without bound.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

from sdbridge.errors import ConfigError

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """A one-item slot where the newest item wins. Thread-safe.

    `put` returns the item it replaced (or None); `dropped` counts every replaced item.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._item: T | None = None
        self._dropped = 0
        self._put = 0

    def put(self, item: T) -> T | None:
        """Store `item`, replacing (and counting as dropped) any item not yet taken."""
        with self._lock:
            old = self._item
            self._item = item
            self._put += 1
            if old is not None:
                self._dropped += 1
            return old

    def take(self) -> T | None:
        """Remove and return the item, or None when the slot is empty."""
        with self._lock:
            item = self._item
            self._item = None
            return item

    def clear(self) -> T | None:
        """Empty the slot without counting a drop; returns what was there."""
        return self.take()

    @property
    def pending(self) -> bool:
        """True when an item waits in the slot."""
        with self._lock:
            return self._item is not None

    @property
    def dropped(self) -> int:
        """How many items were replaced before anyone took them."""
        with self._lock:
            return self._dropped

    @property
    def put_count(self) -> int:
        """How many items were ever put."""
        with self._lock:
            return self._put


class BoundedFifo(Generic[T]):
    """A first-in first-out queue of at most `capacity` items. Thread-safe.

    `put` returns False (and counts a rejection) when full instead of blocking or growing.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ConfigError(f"BoundedFifo capacity={capacity} must be >= 1; pass a positive capacity")
        self._capacity = capacity
        self._lock = threading.Lock()
        self._items: deque[T] = deque()
        self._rejected = 0

    @property
    def capacity(self) -> int:
        """The maximum number of items held at once."""
        return self._capacity

    def put(self, item: T) -> bool:
        """Append `item`; return False and count a rejection when the queue is full."""
        with self._lock:
            if len(self._items) >= self._capacity:
                self._rejected += 1
                return False
            self._items.append(item)
            return True

    def get(self) -> T | None:
        """Pop the oldest item, or None when empty."""
        with self._lock:
            return self._items.popleft() if self._items else None

    def drain(self) -> list[T]:
        """Pop every item, oldest first."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
            return items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @property
    def rejected(self) -> int:
        """How many puts were refused because the queue was full."""
        with self._lock:
            return self._rejected
