"""A small in-process cache of rendered responses, for the reads every dashboard polls.

A leaderboard page of a 100,000-candidate job costs an indexed query and the serialization of
50 rows (about 10 ms on this machine's cores); fifty dashboards polling it would queue behind
each other. The key carries the job's counters and ``updated_at``, so a page is rendered again
as soon as the job records anything new; the time limit bounds what the key cannot see (a
candidate's canonical form and source are filled in shortly after it is proposed).

Example:
    >>> cache = ResponseCache(seconds=1.0)
    >>> cache.get(("board", 1)) is None
    True
    >>> cache.put(("board", 1), b"{}")
    >>> cache.get(("board", 1))
    b'{}'
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Hashable


class ResponseCache:
    """Thread-safe, least-recently-used, entries valid for ``seconds`` (0 turns it off)."""

    def __init__(self, *, seconds: float, entries: int = 512) -> None:
        self.seconds = seconds
        self.entries = entries
        self._lock = threading.Lock()
        self._items: collections.OrderedDict[Hashable, tuple[float, bytes]] = collections.OrderedDict()

    def get(self, key: Hashable) -> bytes | None:
        if self.seconds <= 0:
            return None
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if time.monotonic() - item[0] > self.seconds:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: Hashable, body: bytes) -> None:
        if self.seconds <= 0:
            return
        with self._lock:
            self._items[key] = (time.monotonic(), body)
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
