"""Database faults injected at the driver boundary: a SQLAlchemy engine event raises the
OperationalError a failing database gives, for the statements that record item outcomes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from random import Random
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine


def is_outcome_write(statement: str) -> bool:
    """The recorder's UPDATE of items to their outcomes (storage.runs.finish_items, one
    statement per batch: WITH outcome(...) AS (VALUES ...) UPDATE run_item ...)."""
    return "UPDATE RUN_ITEM" in statement.upper() and "finished_at" in statement


@dataclass
class RecorderFaults:
    """Which outcome writes fail: the first `first` of them, every one for `down_seconds` after
    the first failure, and each with probability `rate` (seeded)."""

    first: int = 0
    down_seconds: float = 0.0
    rate: float = 0.0
    seed: int = 0
    raised: int = 0
    _down_since: float | None = None
    _rng: Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = Random(self.seed)

    def should_fail(self) -> bool:
        now = time.monotonic()
        if self.raised < self.first:
            return True
        if self.down_seconds and (
            self._down_since is None or now - self._down_since < self.down_seconds
        ):
            self._down_since = self._down_since or now
            return True
        return bool(self.rate) and self._rng.random() < self.rate

    def hook(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if is_outcome_write(statement) and self.should_fail():
            self.raised += 1
            raise OperationalError(statement, parameters, Exception("database is locked"))


@contextmanager
def failing_recorder(engine: AsyncEngine, faults: RecorderFaults) -> Iterator[RecorderFaults]:
    event.listen(engine.sync_engine, "before_cursor_execute", faults.hook)
    try:
        yield faults
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", faults.hook)
