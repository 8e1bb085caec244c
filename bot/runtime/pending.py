"""Submissions kept in memory only, briefly, so a user can retry without retyping a secret and
confirm a plan without recomputing it.

Nothing here is ever written to disk or the database; a restart forgets it, by design. Each
store holds one kind of item, at most `MAX_HELD` of them, each for `DEFAULT_TTL_SECONDS`.
"""

from __future__ import annotations

import secrets
from typing import Generic, TypeVar

from cachetools import TTLCache

T = TypeVar("T")
DEFAULT_TTL_SECONDS = 15 * 60
MAX_HELD = 1000  # beyond this the oldest submission is forgotten first


class PendingStore(Generic[T]):
    def __init__(self, *, ttl_seconds: float = DEFAULT_TTL_SECONDS, most: int = MAX_HELD) -> None:
        self._items: TTLCache[str, T] = TTLCache(maxsize=most, ttl=ttl_seconds)
        self._taken: set[str] = set()  # handed to one caller; others are told it is under way

    def put(self, item: T) -> str:
        token = secrets.token_urlsafe(16)
        self._items[token] = item
        return token

    def get(self, token: str) -> T | None:
        return self._items.get(token)

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

    def __repr__(self) -> str:  # never show what is held
        return f"PendingStore({len(self._items)} held)"
