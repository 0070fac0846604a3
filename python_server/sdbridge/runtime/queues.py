"""Queues of the runtime: a latest-wins slot, a bounded FIFO, and the fair share that picks whose queue
the worker serves next.

`LatestSlot` holds at most one item: putting a new item replaces the old one and counts it as dropped.
That is the per-session frame queue: a game never wants the worker to render a stale frame, and it must
never back up (upstream StreamDiffusion's "latest data" queue returned the *oldest* frame of an unbounded
queue, adding seconds of latency).

`BoundedFifo` keeps order and refuses (and counts) items beyond its capacity; control messages use it so
a flood of prompt changes cannot grow memory without bound.

`FairShare` orders the sessions that have work by the worker time each was charged, least first (fair
queueing): one session whose requests cost more (a long t_index_list, prompt blends to encode) gets more
time per turn but proportionally fewer turns, so it cannot take more than its share while others wait.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Collection, Sequence
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

    def items(self) -> list[T]:
        """A snapshot of the queued items, oldest first; they stay queued (see `discard`)."""
        with self._lock:
            return list(self._items)

    def discard(self, count: int) -> None:
        """Remove the `count` oldest items (e.g. those an `items` snapshot returned, once handled)."""
        with self._lock:
            for _ in range(min(count, len(self._items))):
                self._items.popleft()

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


class FairShare:
    """Which of the sessions with work goes next: the one charged the least worker time so far.

    Keys are session ids. The worker `charge`s each session the seconds its turns took (frames, prompt
    encoding, pipeline builds); `order` ranks the sessions that have work, least charged first, equal charges
    round-robin in id order after the one served last. Only sessions with work compete: the virtual clock is
    the charge of the least charged session with work at the last choice, and a session that had no work for
    a while comes back at most `quantum_s` behind it (it cannot bank idle time beyond one quantum). A session
    seen for the first time starts one quantum behind the most charged one waiting: a new session (or a
    reconnect, whose first turn builds a pipeline and encodes its prompt at once) queues behind those already
    waiting, so reconnecting again and again cannot buy a clean slate each time. `partners` are the other
    waiting sessions at most `quantum_s` ahead of the first: those may share its turn (one UNet batch).

    A client that streams sends its next frame when a result comes back, so right after its turn it has,
    for a moment, no work. Serving a more charged session's long turn at that moment would cost the
    client a turn each time (a plain alternation). `anticipation` says how long to wait for it instead:
    only for the session served last, while it is the least charged, and only if it usually answers a
    result within `anticipate_s` (its think time, learnt from `published` and `arrived`); a client that
    sends at its own pace (a game at 30 frames/s) is not waited for.
    Not thread-safe: the worker thread alone uses it.
    """

    def __init__(self, quantum_s: float = 0.2, anticipate_s: float = 0.005) -> None:
        if not quantum_s > 0 or not anticipate_s >= 0:
            raise ConfigError(f"FairShare quantum_s={quantum_s} must be > 0 and anticipate_s={anticipate_s} "
                              f">= 0 seconds")
        self._quantum, self._anticipate = quantum_s, anticipate_s
        self._used: dict[int, float] = {}
        self._clock = 0.0
        self._last = 0  # the key served last
        self._published: dict[int, float] = {}  # key -> when its latest result went back (perf_counter)
        self._think: dict[int, float] = {}  # key -> how soon its next frame follows a result (moving average)

    @property
    def quantum_s(self) -> float:
        """How far (seconds of worker time) one session may get ahead of or fall behind the others."""
        return self._quantum

    def used(self, key: int) -> float:
        """Seconds charged to `key` (on the virtual clock); 0.0 for an unknown key."""
        return self._used.get(key, 0.0)

    def order(self, ready: Collection[int]) -> list[int]:
        """The keys that have work, least charged first; the first is the one to serve now."""
        if not ready:
            return []
        ids = sorted(ready)
        ids = [k for k in ids if k > self._last] + [k for k in ids if k <= self._last]
        newcomer = max([self._clock, *(self._used[k] for k in ids if k in self._used)]) + self._quantum
        for key in ids:
            used = self._used.get(key)
            self._used[key] = newcomer if used is None else max(used, self._clock - self._quantum)
        ranked = sorted(ids, key=self._used.__getitem__)
        self._clock = max(self._clock, self._used[ranked[0]])
        self._last = ranked[0]
        return ranked

    def partners(self, ranked: Sequence[int]) -> list[int]:
        """The keys after the first of an `order` at most one quantum ahead of it (fit to share its turn)."""
        if not ranked:
            return []
        limit = self._used.get(ranked[0], self._clock) + self._quantum
        return [k for k in ranked[1:] if self._used.get(k, self._clock) <= limit]

    def published(self, key: int, now: float) -> None:
        """A result of `key` went back to its client at `now` (time.perf_counter)."""
        self._published[key] = now

    def arrived(self, key: int, received_at: float) -> None:
        """A frame of `key`, received at `received_at` (time.perf_counter), was taken: learn its think time."""
        sent = self._published.pop(key, None)
        if sent is not None:
            think = max(0.0, received_at - sent)
            old = self._think.get(key)
            self._think[key] = think if old is None else 0.75 * old + 0.25 * think

    def anticipation(self, ready: Collection[int]) -> float:
        """Seconds to wait for the session served last (which has no work now) before serving one of `ready`."""
        last = self._last
        think = self._think.get(last)
        if not ready or last in ready or last not in self._used or think is None or think > self._anticipate:
            return 0.0
        if self._used[last] >= min(self._used.get(k, self._clock) for k in ready):
            return 0.0  # it is not behind the others: no reason to keep them waiting
        return min(self._anticipate, 2.0 * think + 0.001)

    def answering(self, keys: Collection[int], within_s: float, now: float) -> list[int]:
        """The `keys` whose latest result went back at most `within_s` ago and whose next frame usually follows a
        result within `within_s` (learnt think time): frames expected that soon (runtime.batch_window)."""
        return [k for k in keys if (sent := self._published.get(k)) is not None and now - sent <= within_s
                and (think := self._think.get(k)) is not None and think <= within_s]

    def charge(self, key: int, seconds: float) -> None:
        """Count `seconds` of worker time against `key`."""
        self._used[key] = self._used.get(key, self._clock) + max(0.0, seconds)

    def retain(self, keys: Collection[int]) -> None:
        """Forget every key not in `keys` (sessions that are gone)."""
        for records in (self._used, self._published, self._think):
            for key in [k for k in records if k not in keys]:
                del records[key]

    def __len__(self) -> int:
        """How many sessions it keeps records of."""
        return len(self._used.keys() | self._think.keys() | self._published.keys())
