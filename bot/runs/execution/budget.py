"""Sharing Nylas's budget between replicas. Nylas limits requests per application, so replicas
working runs at the same time (on one PostgreSQL) must not exceed BULKAUTH_NYLAS_RPS together.
Four times a second (once a second while no run is worked anywhere) each process counts the
workers holding fresh claims on running runs' items (a claim is fresh while its worker
heart-beats: the same lease that hands a stopped worker's items over) and paces its calls to an
equal share: rate / (those others + itself). A replica that stops counts until its claims go
stale (BULKAUTH_ITEM_LEASE_SECONDS); one that joins, or one whose last users are answered, is
counted anew within a quarter of a second (an indexed query), so the others neither overshoot
nor leave the budget idle for long. A replica that starts calling fills its share over one
window from when the others have counted it, as their last second leaves Nylas's count
(bot/nylas/throttle.py)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from bot.logs import log_event
from bot.nylas.client import NylasClient
from bot.runtime.tasks import cancel_and_wait
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
        self, *, sessions: Sessions, nylas: NylasClient, worker_id: str, lease_seconds: float
    ) -> None:
        self._readers = read_only_sessions(sessions)
        self._nylas = nylas
        self._worker_id = worker_id
        self._lease = timedelta(seconds=lease_seconds)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Refresh until `stop` (a loop of its own, not a scheduler job: it is frequent, cheap
        and never needs to survive a restart)."""
        self._task = asyncio.create_task(self._refreshing(), name="nylas-budget")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _refreshing(self) -> None:
        while True:
            working = await self.refresh()
            await asyncio.sleep(BUDGET_SECONDS if working else IDLE_BUDGET_SECONDS)

    async def refresh(self) -> bool:
        """Take this process's share now; True while some worker holds claims (then the next
        refresh comes sooner)."""
        try:
            async with self._readers() as session:
                workers = await live_workers(session=session, fresh_since=utcnow() - self._lease)
        except SQLAlchemyError as error:  # keep the last share; try again in a second
            log.warning("Nylas budget share not refreshed (%s)", type(error).__name__)
            return False
        replicas = len(workers - {self._worker_id}) + 1
        if replicas != self._nylas.replicas:
            log_event(
                log,
                "nylas.budget_shared",
                replicas=replicas,
                rate=round(self._nylas.rate_per_second / replicas, 2),
            )
        self._nylas.share_budget(replicas, others_notice_within=NOTICE_SECONDS)
        return bool(workers)
