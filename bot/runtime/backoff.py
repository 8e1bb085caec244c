"""Per-key backoff for work a periodic job retries (a scan that tries again each period would
otherwise hammer whatever keeps failing): after a failure a key is skipped for a while, twice as
long after each further failure, up to a cap; a success forgets the key."""

from __future__ import annotations

import time


class Backoff:
    def __init__(self, *, first: float, most: float) -> None:
        self._first = first
        self._most = most
        self._waits: dict[object, tuple[float, float]] = {}  # key: (not before, last wait)

    def due(self, key: object) -> bool:
        not_before, _wait = self._waits.get(key, (0.0, 0.0))
        return time.monotonic() >= not_before

    def failed(self, key: object) -> None:
        _not_before, last = self._waits.get(key, (0.0, 0.0))
        wait = min(self._most, last * 2 if last else self._first)
        self._waits[key] = (time.monotonic() + wait, wait)

    def settled(self, key: object) -> None:
        self._waits.pop(key, None)
