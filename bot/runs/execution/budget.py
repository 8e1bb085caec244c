"""Sharing Nylas's budget between replicas. Nylas limits requests per application, so replicas
working runs at the same time (on one PostgreSQL) must not exceed BULKAUTH_NYLAS_RPS together.
Four times a second (once a second while no run is worked anywhere) each process counts the
workers holding fresh claims on running runs' items (a claim is fresh while its worker
heart-beats: the same lease that hands a stopped worker's items over) and paces its calls to an
equal share: rate / (those others + itself). A replica that stops counts until its claims go
stale (BULKAUTH_ITEM_LEASE_SECONDS); one that joins, or one whose last users are answered, is
counted anew within a quarter of a second (an indexed query), so the others neither overshoot
nor leave the budget idle for long. A run's pass also counts them once it has claimed its canary
user, before its first call (the engine's `count_callers`).

A replica that finds others calling cannot know how much of Nylas's last second they spent: its
share fills over one window from when they have counted it, as they hand theirs over
(bot/nylas/throttle.py). So while it counts others, each replica also writes what it holds: the
most calls it may have in Nylas's window until its next word, its calls of the last second or its
share if more (storage/callers.py). Once every other replica has written, one whose share fills
takes at once the room they leave. (The first replica of a run, still spending the catch-up
after its canary when the second joins, holds far less than the whole budget.) The engine runs
the refresh loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from bot.logs import log_event
from bot.nylas.client import NylasClient
from bot.runtime.tasks import cancel_and_wait
from storage.callers import holds_of, publish_holds, withdraw_holds
from storage.db import Sessions, read_only_sessions
from storage.models import utcnow
from storage.runs import live_workers

log = logging.getLogger(__name__)
BUDGET_SECONDS = 0.25
# A replica's claims reach the others' next count within a refresh and its query
NOTICE_SECONDS = BUDGET_SECONDS + 0.05
IDLE_BUDGET_SECONDS = 1.0  # while no worker holds claims


class BudgetShare:
    def __init__(
        self,
        *,
        sessions: Sessions,
        nylas: NylasClient,
        worker_id: str,
        lease_seconds: float,
        canaries_only: Callable[[], bool] = lambda: False,
    ) -> None:
        self._sessions = sessions
        self._readers = read_only_sessions(sessions)
        self._nylas = nylas
        self._worker_id = worker_id
        self._lease = timedelta(seconds=lease_seconds)
        self._task: asyncio.Task[None] | None = None
        self._published = False  # this process's holds are in the database
        self._counting = asyncio.Lock()  # the loop and a pass's count, one at a time
        # this process makes nothing but runs' canary calls (one at a time): it holds those
        self._canaries_only = canaries_only

    def start(self) -> None:
        """Refresh until `stop` (a loop of its own, not a scheduler job: it is frequent, cheap
        and never needs to survive a restart)."""
        self._task = asyncio.create_task(self._refreshing(), name="nylas-budget")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        if self._published:
            await self._publish(replicas=1)

    async def _refreshing(self) -> None:
        while True:
            working = await self.refresh()
            await asyncio.sleep(BUDGET_SECONDS if working else IDLE_BUDGET_SECONDS)

    async def refresh(self) -> bool:
        """Take this process's share now, and say what it holds while others call beside it;
        True while some worker holds claims (then the next refresh comes sooner)."""
        async with self._counting:
            return await self._count()

    async def _count(self) -> bool:
        since = utcnow() - self._lease
        try:
            async with self._readers() as session:
                workers = await live_workers(session=session, fresh_since=since)
                others = workers - {self._worker_id}
                holds = (
                    await holds_of(session=session, workers=others, updated_since=since)
                    if others
                    else {}
                )
        except SQLAlchemyError as error:  # keep the last share; try again in a second
            log.warning("Nylas budget share not refreshed (%s)", type(error).__name__)
            return False
        replicas = len(others) + 1
        if replicas != self._nylas.replicas:
            log_event(
                log,
                "nylas.budget_shared",
                replicas=replicas,
                rate=round(self._nylas.rate_per_second / replicas, 2),
            )
        self._nylas.share_budget(
            replicas,
            others_notice_within=NOTICE_SECONDS,
            # known only when every other replica said what it holds
            others_hold=sum(holds.values()) if len(holds) == len(others) else None,
        )
        if replicas > 1 or self._published:
            await self._publish(replicas)
        return bool(workers)

    async def _publish(self, replicas: int) -> None:
        """Write what this process holds while others call beside it (they take the room it
        leaves); delete it once alone again (a later replica must not read an old word)."""
        try:
            async with self._sessions() as session:
                if replicas > 1:
                    await publish_holds(
                        session=session,
                        worker_id=self._worker_id,
                        holds=self._nylas.holds(canary=self._canaries_only()),
                    )
                else:
                    await withdraw_holds(session=session, worker_id=self._worker_id)
                await session.commit()
        except SQLAlchemyError as error:  # the others fill their share blind meanwhile
            log.warning("Nylas budget holds not written (%s)", type(error).__name__)
            return
        self._published = replicas > 1
