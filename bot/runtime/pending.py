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
        self._taken: set[str] = set()  # handed to one caller; others are told it is under way

    def put(self, item: T) -> str:
        self._expire()
        token = secrets.token_urlsafe(16)
        self._items[token] = (time.monotonic() + self._ttl, item)
        return token

    def get(self, token: str) -> T | None:
        self._expire()
        entry = self._items.get(token)
        return entry[1] if entry else None

    def take(self, token: str) -> T | None:
        """The item, for exactly one caller: later callers get None until it is `restore`d."""
        item = self.get(token)
        if item is None or token in self._taken:
            return None
        self._taken.add(token)
        return item

    def is_taken(self, token: str) -> bool:
        return token in self._taken and token in self._items

    def restore(self, token: str) -> None:
        """A taken item may be taken again (its work failed and can be retried)."""
        self._taken.discard(token)

    def drop(self, token: str) -> None:
        self._items.pop(token, None)
        self._taken.discard(token)

    def _expire(self) -> None:
        now = time.monotonic()
        for token in [token for token, (expires, _) in self._items.items() if expires < now]:
            del self._items[token]
            self._taken.discard(token)

    def __repr__(self) -> str:  # never show what is held
        return f"PendingStore({len(self._items)} held)"
