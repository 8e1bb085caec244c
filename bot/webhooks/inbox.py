"""Writes accepted notifications to the inbox table before they are answered, in group
commits: requests arriving while a write is under way wait for the next one, which stores all
of them in one transaction. A burst of thousands of notifications then costs a few dozen
commits instead of one each, and every answer still means "stored"."""

from __future__ import annotations

import asyncio
from typing import Any

from storage.db import Sessions
from storage.webhooks import store_notifications

MAX_GROUP = 500


class InboxWriter:
    def __init__(self, *, sessions: Sessions, stored: asyncio.Event | None = None) -> None:
        self._sessions = sessions
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.stored = stored or asyncio.Event()  # set after each commit (wakes the processor)

    async def store(self, row: dict[str, Any]) -> None:
        """Returns once the row is committed (or was already stored); raises if it could not be."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((row, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="webhook-inbox")
        await future

    async def _write_all(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
            rows = {row["notification_id"]: row for row, _future in group}  # a retry in-group
            try:
                async with self._sessions() as session:
                    await store_notifications(session=session, rows=list(rows.values()))
                    await session.commit()
            except Exception as error:  # every waiting request answers 500; Nylas retries
                for _row, future in group:
                    if not future.done():
                        future.set_exception(error)
                continue
            for _row, future in group:
                if not future.done():
                    future.set_result(None)
            self.stored.set()
