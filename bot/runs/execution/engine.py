"""Working bulk runs in this process.

Every process runs an engine. A periodic scan (APScheduler) starts local work on every run that
is running (or queued and now due) and not yet worked here, so runs resume after a restart and
several replicas on one PostgreSQL share a run (and Nylas's budget: budget.py): items are
claimed with SKIP LOCKED, a claim whose worker stopped heart-beating is taken over. Finished
items are never sent again; one interrupted mid-call may be (Nylas re-authenticates it)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.logs import log_event
from bot.metrics import Metrics
from bot.nylas.client import NylasClient
from bot.runs.execution.breaker import Trip
from bot.runs.execution.budget import BudgetShare
from bot.runs.execution.control import PassLimits
from bot.runs.execution.lookups import LookupLimits, look_up_unanswered
from bot.runs.execution.observers import RunObserver
from bot.runs.execution.outcomes import RunContext
from bot.runs.execution.worker import RunPass
from bot.runs.execution.worker_id import new_worker_id
from bot.runtime.backoff import Backoff
from bot.runtime.scheduling import Scheduler
from bot.settings import Settings
from storage.audit import Actor, AuditAction, Subject, record_event
from storage.credentials import get_credential
from storage.db import Sessions, read_only_sessions
from storage.holds import claim_unreported_cancels, hold_run
from storage.models import BulkRun, RequestKind, RunStatus, as_utc, utcnow
from storage.runs import (
    get_run,
    item_counts_of_runs,
    runs_with_status,
    runs_with_unanswered_users,
    transition,
    unfinished_items,
)

log = logging.getLogger(__name__)
START_GRACE = timedelta(minutes=1)
LOOKUP_WINDOW = timedelta(hours=1)  # how long the final look at a cancel's users is retried
ENGINE_ACTOR = Actor("bulkauth", "bulkauth run engine")


class RunEngine:
    def __init__(
        self,
        *,
        settings: Settings,
        sessions: Sessions,
        nylas: NylasClient,
        scheduler: Scheduler,
        observers: Sequence[RunObserver] = (),
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self._readers = read_only_sessions(sessions)  # on SQLite, reads skip the write lock
        self.nylas = nylas
        self._scheduler = scheduler
        self._observers = tuple(observers)  # told in this order
        self.worker_id = new_worker_id()
        self._in_canary: set[int] = set()  # runs whose pass here makes its canary calls
        self._wide: set[int] = set()  # runs whose pass here has passed its canary
        # this process's share of Nylas's budget (the lifespan starts and stops its loop)
        self.budget = BudgetShare(
            sessions=sessions,
            nylas=nylas,
            worker_id=self.worker_id,
            lease_seconds=settings.bulkauth_item_lease_seconds,
            canaries=lambda: 0 if self._wide else len(self._in_canary),
            working=lambda: bool(self._wide or self._in_canary),
        )
        self._active: dict[int, asyncio.Task[None]] = {}
        self._stopping = asyncio.Event()
        self._cancelled: set[int] = set()
        self._held: set[int] = set()  # held here: stop sending until a scan or Resume kicks it
        self._lookup_backoff = Backoff(first=settings.bulkauth_run_scan_seconds, most=300.0)
        self._metrics = metrics or Metrics()
        self._metrics.runs_active.set_function(lambda: len(self._active))

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        self._scheduler.every(
            self.scan,
            seconds=self.settings.bulkauth_run_scan_seconds,
            id=f"run-scan:{self.worker_id}",
            next_run_time=utcnow(),
        )

    async def stop(self, *, timeout: float) -> None:
        """Stop claiming, hand queued items back, let in-flight calls finish."""
        self._stopping.set()
        if not self._active:
            return
        _done, late = await asyncio.wait(list(self._active.values()), timeout=timeout)
        for task in late:  # their claims go stale and another process takes the items over
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=1.0)

    def is_working(self, run_id: int) -> bool:
        return run_id in self._active

    async def wait_stopped(self, run_id: int, *, timeout: float) -> None:
        """Wait for this process's work on a run (after a cancel) to end."""
        task = self._active.get(run_id)
        if task is not None:
            await asyncio.wait([task], timeout=timeout)

    def should_stop(self, run_id: int) -> bool:
        return run_id in self._cancelled or run_id in self._held or self._stopping.is_set()

    async def hold(self, run_id: int, trip: Trip) -> None:
        """The canary or breaker tripped: held (once, audited), stop sending, show why."""
        self._held.add(run_id)
        async with self.sessions() as session:
            won = await hold_run(session=session, run_id=run_id, reason=trip.key, count=trip.count)
            if won:
                await record_event(
                    session=session,
                    actor=ENGINE_ACTOR,
                    action=AuditAction.RUN_HELD,
                    outcome="held",
                    subject=Subject(run_id=run_id),
                    details={"reason": trip.key, "users": trip.count},
                )
            await session.commit()
        if won:
            log_event(log, "run.held", run=run_id, reason=trip.key[:80], users=trip.count)
            self.progressed(run_id)

    async def propagating(self, run_id: int, *, seconds: float) -> None:
        for observer in self._observers:
            await observer.propagating(run_id, seconds=seconds)

    def cancel_locally(self, run_id: int) -> None:
        """A Cancel was recorded: stop sending this run's queued items at once."""
        self._cancelled.add(run_id)

    async def cancel(self, run_id: int, *, cancelled_by: str) -> None:
        """A Cancel was recorded for a run that had started: stop sending here, let calls in
        flight end, then tell the observers it ended."""
        self.cancel_locally(run_id)
        await self.wait_stopped(run_id, timeout=30)
        # Before the report, which counts what it finds; the scan's final look comes later.
        await self._look_up_unanswered(run_id, final=False)
        await self._finished(run_id, cancelled_by=cancelled_by)

    async def _look_up_unanswered(self, run_id: int, *, final: bool) -> None:
        """A cancelled run's users whose calls went unanswered: the grants they may have made
        (or deleted) are found and audited (lookups.py). A final look that leaves some in doubt
        (Nylas or the database failed) is tried again by a later scan, backing off."""
        settings, found, settled = self.settings, 0, False
        try:
            context = await self._context(run_id, status=RunStatus.CANCELLED)
            if context is None:
                return
            found, settled = await look_up_unanswered(
                context=context,
                sessions=self.sessions,
                nylas=self.nylas,
                worker_id=self.worker_id,
                limits=LookupLimits(
                    batch=settings.bulkauth_nylas_concurrency,
                    lease=timedelta(seconds=settings.bulkauth_item_lease_seconds),
                    record_retry_seconds=settings.bulkauth_record_retry_seconds,
                ),
                final=final,
            )
        except Exception:
            log.exception("run %s: looking up unanswered calls failed", run_id)
        finally:
            if final and settled:
                self._lookup_backoff.settled(run_id)
            elif final:
                self._lookup_backoff.failed(run_id)
        if found:
            log_event(log, "run.found_at_nylas", run=run_id, users=found, final=final)

    def progressed(self, run_id: int) -> None:
        for observer in self._observers:
            observer.progressed(run_id)

    async def _finished(self, run_id: int, *, cancelled_by: str | None = None) -> None:
        """Every observer hears it, even when one before it failed."""
        for observer in self._observers:
            try:
                await observer.finished(run_id, cancelled_by=cancelled_by)
            except Exception:
                log.exception("run %s: %s failed at the run's end", run_id, type(observer).__name__)

    async def count_callers(self, run_id: int, *, canary: bool) -> None:
        began = not canary and not self._wide  # this process goes on to its whole share
        if canary:
            self._in_canary.add(run_id)
            self._wide.discard(run_id)
        else:
            self._in_canary.discard(run_id)
            self._wide.add(run_id)
        await self.budget.refresh()
        if began:  # with others calling, it fills its share as they hand theirs over
            self.nylas.begin_share()

    # --- scheduling -----------------------------------------------------------------------
    async def scan(self) -> None:
        """Start due queued runs and work every running run not yet worked here."""
        if self._stopping.is_set():
            return
        now = utcnow()
        async with self.sessions() as session:
            queued = await runs_with_status(
                session=session, statuses=[RunStatus.APPROVED, RunStatus.WAITING_FOR_CONSENT]
            )
            for run in queued:
                if run.id is not None and self._due(run, now):
                    await transition(
                        session=session,
                        run_id=run.id,
                        from_statuses=[run.status],
                        to_status=RunStatus.RUNNING,
                        started_at=now,
                    )
            await session.commit()
            running = await runs_with_status(session=session, statuses=[RunStatus.RUNNING])
        for run in running:
            if run.id is not None:
                self.kick(run.id)
        # A CLI cancel: workers stop at their next claim; one replica reports it (summary, CSV).
        async with self.sessions() as session:
            claimed = await claim_unreported_cancels(session=session, at=utcnow())
            await session.commit()
        for run_id, cancelled_by in claimed:
            await self.cancel(run_id, cancelled_by=cancelled_by)
        # The final look at a cancelled run's users in doubt (lookups.py), once Nylas's lists
        # have caught up with the calls of the cancel's last moments.
        delay = timedelta(seconds=self.settings.bulkauth_lookup_delay_seconds)
        lease = timedelta(seconds=self.settings.bulkauth_item_lease_seconds)
        async with self._readers() as session:
            doubtful = await runs_with_unanswered_users(
                session=session,
                status=RunStatus.CANCELLED,
                ended_after=now - delay - LOOKUP_WINDOW,
                ended_before=now - delay,
                stale_before=now - lease,
            )
        for run_id in doubtful:
            if self._lookup_backoff.due(run_id):
                self._track(run_id, self._look_up_unanswered(run_id, final=True))

    @staticmethod
    def _due(run: BulkRun, now: datetime) -> bool:
        """A queued run whose time has come. An approved run is started by `Runs.start` once
        its progress message exists; the scan takes it over only when that start was cut short
        (no message after a grace period), except a credential deletion (offboarding sweeps it)."""
        if run.status == RunStatus.APPROVED and run.message_ts is None:
            decided = as_utc(run.decided_at) if run.decided_at else now
            return now - decided > START_GRACE and run.kind != RequestKind.DELETE_CREDENTIAL
        return run.start_after is None or as_utc(run.start_after) <= now

    def kick(self, run_id: int) -> None:
        """Work this run here unless that is already happening."""
        if run_id in self._active or self._stopping.is_set():
            return
        self._held.discard(run_id)  # only running runs are kicked: any hold was resumed
        self._track(run_id, self._work(run_id))

    def _track(self, run_id: int, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` for this run here unless something already is (stop() waits for it)."""
        if run_id in self._active:
            work.close()
            return
        task = asyncio.create_task(work, name=f"run-{run_id}")
        self._active[run_id] = task
        task.add_done_callback(lambda _task: self._active.pop(run_id, None))

    # --- one run ----------------------------------------------------------------------------
    async def _context(
        self, run_id: int, status: RunStatus = RunStatus.RUNNING
    ) -> RunContext | None:
        async with self._readers() as session:
            run = await get_run(session=session, run_id=run_id)
            if run is None or run.status != status:
                return None
            owner = run.credential_id  # None: a revocation across every credential
            credential = None
            if owner is not None:
                credential = await get_credential(session=session, credential_id=owner)
        assert credential is not None or owner is None
        by = run.approved_by
        approver = Actor(by, run.approved_by_name or by) if by else None
        return RunContext(
            run=run,
            run_id=run_id,
            credential_id=credential.nylas_credential_id if credential else "",
            provider="google" if run.provider == "google" else "microsoft",
            scopes=run.scopes.split(),
            requester=Actor(run.requested_by, run.requested_by_name),
            approver=approver,
        )

    def _pass(self, context: RunContext) -> RunPass:
        settings = self.settings
        return RunPass(
            context=context,
            control=self,
            sessions=self.sessions,
            nylas=self.nylas,
            worker_id=self.worker_id,
            metrics=self._metrics,
            limits=PassLimits(
                concurrency=settings.bulkauth_nylas_concurrency,
                item_attempts=settings.bulkauth_item_attempts,
                lease_seconds=settings.bulkauth_item_lease_seconds,
                record_retry_seconds=settings.bulkauth_record_retry_seconds,
                breaker_consecutive=settings.bulkauth_breaker_consecutive,
                propagation_first_retry=settings.bulkauth_propagation_first_retry_seconds,
                propagation_max_wait=settings.bulkauth_propagation_max_wait_seconds,
            ),
        )

    async def _work(self, run_id: int) -> None:
        try:
            context = await self._context(run_id)
            if context is None:
                return
            for observer in self._observers:
                await observer.started(run_id)
            await self._pass(context).run()
            await self._maybe_finish(run_id)
        except Exception:
            log.exception("run %s: worker stopped; the next scan picks it up again", run_id)
        finally:
            self._in_canary.discard(run_id)
            self._wide.discard(run_id)

    async def _maybe_finish(self, run_id: int) -> None:
        """The process that sees the last item done closes the run (once)."""
        async with self.sessions() as session:
            if await unfinished_items(session=session, run_id=run_id):
                return
            won = await transition(
                session=session,
                run_id=run_id,
                from_statuses=[RunStatus.RUNNING],
                to_status=RunStatus.FINISHED,
                finished_at=utcnow(),
            )
            await session.commit()
        if not won:
            return
        await self._log_finished(run_id)
        await self._finished(run_id)

    async def _log_finished(self, run_id: int) -> None:
        async with self._readers() as session:
            run = await get_run(session=session, run_id=run_id)
            counts = (await item_counts_of_runs(session=session, run_ids=[run_id]))[run_id]
        assert run is not None
        started, finished = run.started_at, run.finished_at
        duration = (
            round((as_utc(finished) - as_utc(started)).total_seconds(), 1)
            if started and finished
            else None
        )
        log_event(
            log,
            "run.finished",
            run=run_id,
            users=run.total,
            **{status: counts[status] for status in sorted(counts)},
            duration_seconds=duration,
        )
