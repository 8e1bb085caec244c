"""APScheduler (AsyncIOScheduler, 3.x) as the bot's timer, with jobs that are allowed to finish
before it closes (APScheduler's own shutdown cancels running coroutine jobs and cannot wait)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

Job = Callable[..., Awaitable[None]]


class Scheduler:
    def __init__(self) -> None:
        self.aps = AsyncIOScheduler(timezone="UTC")
        self._running: set[asyncio.Task[Any]] = set()

    def start(self) -> None:
        self.aps.start()

    def add_job(self, func: Job, **options: Any) -> None:
        """Same options as APScheduler's `add_job`; the job is tracked while it runs."""

        async def tracked(*args: Any) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                await func(*args)
            finally:
                self._running.discard(task)

        self.aps.add_job(tracked, **options)

    def every(self, func: Job, *, seconds: float, id: str, **options: Any) -> None:
        """Run `func` every `seconds`, one at a time; runs missed meanwhile are run once."""
        self.add_job(
            func,
            trigger="interval",
            seconds=seconds,
            id=id,
            max_instances=1,
            coalesce=True,
            **options,
        )

    def once(self, func: Job, *, at: datetime, id: str, args: list[Any]) -> None:
        """Run `func(*args)` at `at`, replacing the job `id` had; a time already past (a restart
        after it) runs it at once, and only once."""
        self.add_job(
            func,
            trigger="date",
            run_date=at,
            args=args,
            id=id,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )

    async def close(self, *, timeout: float = 10.0) -> None:
        """No new runs; let running jobs finish (for `timeout`), then shut down."""
        if not self.aps.running:
            return
        self.aps.pause()
        # A job submitted just before the pause is a task that has not started yet: let it
        # start (and be tracked), so that it finishes before what it uses is closed.
        await asyncio.sleep(0)
        if self._running:
            await asyncio.wait(set(self._running), timeout=timeout)
        self.aps.shutdown(wait=False)
