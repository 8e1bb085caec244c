"""Submissions kept in memory only, briefly, so a user can retry without retyping a secret.

Nothing here is ever written to disk or the database; a restart forgets it, by design.
"""

from __future__ import annotations

import secrets
import time
from typing import Generic, TypeVar

T = TypeVar("T")
DEFAULT_TTL_SECONDS = 15 * 60


class PendingStore(Generic[T]):
    def __init__(self, *, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self._ttl = ttl_seconds
        self._items: dict[str, tuple[float, T]] = {}

    def put(self, item: T) -> str:
        self._expire()
        token = secrets.token_urlsafe(16)
        self._items[token] = (time.monotonic() + self._ttl, item)
        return token

    def get(self, token: str) -> T | None:
        self._expire()
        entry = self._items.get(token)
        return entry[1] if entry else None

    def drop(self, token: str) -> None:
        self._items.pop(token, None)

    def _expire(self) -> None:
        now = time.monotonic()
        for token in [token for token, (expires, _) in self._items.items() if expires < now]:
            del self._items[token]

    def __repr__(self) -> str:  # never show what is held
        return f"PendingStore({len(self._items)} held)"
