"""One pass of one process over one run: a feeder claims items in batches of what the pass sends
in a moment, senders each take a turn in the client's shared rate budget and then a user
(ready.py), a recorder writes outcomes and audit events in batches, and a heartbeat keeps this
worker's claims fresh.

A grant Nylas made must reach the audit log whatever the database does. The recorder retries
for BULKAUTH_RECORD_RETRY_SECONDS; if it still cannot write, the pass stops sending, hands its
claims back and ends (logged), and the next pass sends those users again. Before sending a user
a second time, the pass asks Nylas (List Grants by email) whether an earlier attempt already made
the grant, and records that grant instead of creating it blindly again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError
from tenacity import (
    AsyncRetrying,
)

from bot.metrics import Metrics
from bot.nylas.client import NylasClient
from bot.nylas.errors import NylasCallWithdrawn, NylasError
from bot.nylas.models import BulkAuthRequest
from bot.runs.execution.actions import revoke, revokes
from bot.runs.execution.breaker import Breaker
from bot.runs.execution.canary import Canary, CanaryCalls, PropagationWait
from bot.runs.execution.control import PassLimits, RunControl
from bot.runs.execution.lookups import done_at_nylas, grant_made_earlier
from bot.runs.execution.outcomes import (
    Outcome,
    RunContext,
    found_earlier,
    granted,
    not_granted,
    unsent,
)
from bot.runs.execution.ready import ReadyUsers, claim_size, fair_part, last_calls_of
from bot.runs.execution.recording import db_retrying, record_outcomes
from storage.db import Sessions, read_only_sessions
from storage.models import ItemStatus, RunStatus, utcnow
from storage.runs import (
    ClaimedItem,
    anything_to_claim,
    claim_items,
    get_run,
    pending_left,
    refresh_claims,
    release_claims,
)

log = logging.getLogger(__name__)
RECORD_BATCH = 200
# Outcomes are written a batch at a time: the first outcome waits this long for others to join
# it, unless nobody is left to claim (a user's outcome not yet written is still claimed, so a
# crash loses no grant: the next pass finds it at Nylas before sending again). Each write is a
# transaction of five statements (several milliseconds of CPU on SQLite), so at 50 users/s a
# quarter of a second cost the bot more per second than the users' calls did.
RECORD_FLUSH_SECONDS = 0.5


class RunPass:
    def __init__(
        self,
        *,
        context: RunContext,
        control: RunControl,
        sessions: Sessions,
        nylas: NylasClient,
        worker_id: str,
        limits: PassLimits,
        metrics: Metrics,
    ) -> None:
        self._context = context
        self._control = control
        self._sessions = sessions
        self._readers = read_only_sessions(sessions)
        self._nylas = nylas
        self._worker_id = worker_id
        self._limits = limits
        self._metrics = metrics
        self._concurrency = limits.concurrency
        self._ready = ReadyUsers()
        self._outcomes: asyncio.Queue[Outcome | None] = asyncio.Queue()
        self._in_flight = 0
        self._draining = False  # nothing left to claim: only the users in flight remain
        self._finishing = False  # the users left to claim (at the last claim) are few or none
        self._recorded = asyncio.Event()
        self._broken = False  # the database refused our writes: stop sending, hand items back
        self._breaker = Breaker(limits.breaker_consecutive)

    async def run(self) -> None:
        await self._hand_back()  # claims an earlier pass here left behind (it ended abruptly)
        beating = asyncio.create_task(self._heartbeat())
        recording: asyncio.Task[None] | None = None
        try:
            if not await self._canary().passes():
                return
            await self._control.count_callers(self._context.run_id, canary=False)
            recording = asyncio.create_task(self._record_all())
            await asyncio.gather(
                self._feed(), *(self._send_all() for _ in range(self._concurrency))
            )
            await self._outcomes.put(None)
            await recording
        finally:
            beating.cancel()
            if recording is not None:
                recording.cancel()
            if self._broken:
                await self._hand_back_if_possible()

    def _canary(self) -> Canary:
        stale = timedelta(seconds=self._limits.lease_seconds)
        limits = self._limits
        return Canary(
            context=self._context,
            control=self._control,
            calls=CanaryCalls(
                claim_one=lambda: self._claim_canary(stale),
                send=self._send,
                record=self._record_told,
            ),
            wait=PropagationWait(limits.propagation_first_retry, limits.propagation_max_wait),
        )

    async def _hand_back(self) -> None:
        async with self._sessions() as session:
            await release_claims(
                session=session, run_id=self._context.run_id, worker_id=self._worker_id
            )
            await session.commit()

    async def _hand_back_if_possible(self) -> None:
        """After giving up: if even this fails, the next pass here (or, once the claims go
        stale, another worker) hands them back."""
        try:
            await self._hand_back()
        except SQLAlchemyError as error:
            log.warning(
                "run %s: could not hand claimed users back (%s)",
                self._context.run_id,
                type(error).__name__,
            )

    def _give_up(self, what: str, error: Exception) -> None:
        self._broken = True
        self._recorded.set()  # wake the feeder so it stops
        log.error(
            "run %s: could not %s (%s); this worker stops sending and hands its users back, "
            "the next pass takes them up again",
            self._context.run_id,
            what,
            type(error).__name__,
        )

    def _db_retrying(self) -> AsyncRetrying:
        return db_retrying(self._limits.record_retry_seconds)

    async def _claim(self, stale: timedelta, limit: int) -> list[ClaimedItem] | None:
        """None once the run no longer runs (another process may have cancelled or held it).
        The users left are counted first, in a read of its own: on SQLite the claim holds the
        write lock, and a claim's count is only a guide (the others claim meanwhile anyway)."""
        replicas = self._nylas.replicas
        last_calls = last_calls_of(self._nylas.rate_per_second, limit)
        async with self._readers() as reading:
            left = await pending_left(
                session=reading,
                run_id=self._context.run_id,
                most=max(2 * replicas * limit, last_calls + 1),
            )
        self._finishing = left <= last_calls
        if replicas > 1:  # near the run's end, a fair part of what is left
            limit = fair_part(limit, left=left, replicas=replicas)
        async with self._sessions() as session:
            run = await get_run(session=session, run_id=self._context.run_id)
            if run is None or run.status != RunStatus.RUNNING:
                return None
            claimed = await claim_items(
                session=session,
                run_id=self._context.run_id,
                worker_id=self._worker_id,
                limit=limit,
                stale_before=utcnow() - stale,
            )
            await session.commit()
        return claimed

    async def _next_claims(self, stale: timedelta, limit: int) -> list[ClaimedItem] | None:
        """Items to send next; None when the pass should end (stopped, or the database is
        gone for longer than the retries)."""
        try:
            if self._broken or self._control.should_stop(self._context.run_id):
                return None
            async for attempt in self._db_retrying():
                with attempt:
                    return await self._claim(stale, limit)
        except SQLAlchemyError as error:
            self._give_up("claim users", error)
        return None

    async def _claim_canary(self, stale: timedelta) -> list[ClaimedItem] | None:
        """A canary user. First this pass counts the callers (before its first call), and with
        others calling says it makes canary calls, before its claim shows it to them: they keep
        the budget but for those calls until they passed (bot/runs/execution/budget.py). Near a
        run's end the others hold its last users, and a scan starts a pass here every moment:
        it ends without a word, which would keep the budget from them for a canary never made."""
        if not await self._anything_to_claim(stale):
            return []
        await self._control.count_callers(self._context.run_id, canary=True)
        return await self._next_claims(stale, limit=1)

    async def _anything_to_claim(self, stale: timedelta) -> bool:
        """(True when the database does not answer: the claim's own retries deal with that.)"""
        try:
            async with self._readers() as session:
                return await anything_to_claim(
                    session=session,
                    run_id=self._context.run_id,
                    worker_id=self._worker_id,
                    stale_before=utcnow() - stale,
                )
        except SQLAlchemyError:
            return True

    def _claim_size(self) -> int:
        share = self._nylas.rate_per_second / self._nylas.replicas
        return claim_size(share, self._concurrency)

    async def _feed(self) -> None:
        try:
            await self._claim_all()
        finally:  # whatever stopped it, the senders finish the users claimed and end
            self._ready.close(self._concurrency)

    async def _claim_all(self) -> None:
        stale = timedelta(seconds=self._limits.lease_seconds)
        while True:
            size = self._claim_size()
            await self._ready.at_most(size // 2)
            if (claimed := await self._next_claims(stale, size)) is None:
                break
            if not claimed:
                if self._in_flight == 0:
                    break
                self._draining = True
                self._recorded.clear()
                await self._recorded.wait()  # retries come back as pending items
                continue
            self._in_flight += len(claimed)
            self._ready.add(claimed)

    async def _send_all(self) -> None:
        with self._calls():
            while await self._ready.promised():
                if self._stopped():  # handed back without a turn
                    await self._outcomes.put(unsent(self._ready.take()))
                    continue
                async with self._nylas.turn_first() as turn:
                    item = self._ready.take()
                    outcome = await self._send(item) if turn else unsent(item)
                await self._outcomes.put(outcome)

    def _stopped(self) -> bool:
        """Held or cancelled, or the database refused our writes: send nobody else."""
        return self._broken or self._control.should_stop(self._context.run_id)

    @contextmanager
    def _calls(self) -> Iterator[None]:
        """A hold or cancel (or a database that refuses our writes) also stops the calls already
        paced and waiting for their turn; once the users left to claim are few (or none), the
        calls are the run's last."""
        with (
            self._nylas.withdrawn_when(self._stopped),
            self._nylas.finishing_when(lambda: self._finishing),
        ):
            yield

    async def _send(self, item: ClaimedItem) -> Outcome:
        try:
            with self._calls():
                if revokes(self._context):
                    return await revoke(self._nylas, item)
                return await self._grant(item)
        except NylasCallWithdrawn:
            return unsent(item)
        except Exception as error:  # one user's surprise must not strand the others' outcomes
            if not isinstance(error, NylasError):
                log.exception("run %s: unexpected error for one user", self._context.run_id)
            outcome = not_granted(item, error, max_attempts=self._limits.item_attempts)
            if outcome.status == ItemStatus.FAILED and getattr(error, "retryable", False):
                return await self._unless_made_after_all(outcome)
            return outcome

    async def _unless_made_after_all(self, gave_up: Outcome) -> Outcome:
        """A user given up after calls without a usable answer: one of them may have made the
        grant (or deleted it), so Nylas is asked first (lookups.py)."""
        try:
            done = await done_at_nylas(self._nylas, self._context, gave_up.item)
        except Exception as error:  # the user stays given up; the pass goes on
            if not isinstance(error, NylasError):
                log.exception("run %s: unexpected error looking up one user", self._context.run_id)
            return gave_up
        return done or gave_up

    async def _grant(self, item: ClaimedItem) -> Outcome:
        context = self._context
        if item.attempts > 1 and not item.known_grant_id:
            found = await grant_made_earlier(self._nylas, context, item)
            if found is not None:
                return found_earlier(item, found)
        request = BulkAuthRequest(
            provider=context.provider,
            credential_id=context.credential_id,
            email_address=item.email,
            scopes=context.scopes if context.provider == "google" else None,
        )
        created = await self._nylas.create_bulk_grant(request)
        return granted(item, created.data.id, created.request_id)

    async def _record_all(self) -> None:
        done = False
        while not done:
            batch = await self._next_batch()
            done = None in batch
            finished = [outcome for outcome in batch if outcome is not None]
            if not self._broken:  # once broken, the next pass finds these users' grants
                await self._record_retrying(finished)
            self._in_flight -= len(finished)
            self._recorded.set()
            self._control.progressed(self._context.run_id)

    async def _next_batch(self) -> list[Outcome | None]:
        """The outcomes of one write: those arriving within RECORD_FLUSH_SECONDS of the first
        (the run's last users, once nobody is left to claim, at once). The circuit breaker sees
        each as it arrives, in order; once it trips the run is held and the users still queued
        here are handed back unsent."""
        batch: list[Outcome | None] = []
        deadline: float | None = None
        while len(batch) < RECORD_BATCH and None not in batch:
            if self._draining and batch and len(batch) >= self._in_flight:
                break  # the run's last users: nothing else is coming, write them now
            try:
                async with asyncio.timeout_at(deadline):
                    outcome = await self._outcomes.get()
            except TimeoutError:
                break
            batch.append(outcome)
            deadline = deadline or asyncio.get_running_loop().time() + RECORD_FLUSH_SECONDS
            trip = self._breaker.record(outcome) if outcome is not None else None
            if trip and not self._control.should_stop(self._context.run_id):
                await self._control.hold(self._context.run_id, trip)
        return batch

    async def _record_told(self, outcomes: list[Outcome]) -> None:
        await self._record_retrying(outcomes)
        self._control.progressed(self._context.run_id)

    async def _record_retrying(self, outcomes: list[Outcome]) -> None:
        """Each attempt is one transaction, so a failed one leaves nothing half-written."""
        try:
            async for attempt in self._db_retrying():
                with attempt:
                    await self._record(outcomes)
        except SQLAlchemyError as error:
            self._give_up(f"record {len(outcomes)} outcomes", error)

    async def _record(self, outcomes: list[Outcome]) -> None:
        recorded = await record_outcomes(
            self._sessions, outcomes, self._context, worker_id=self._worker_id
        )
        for status in recorded:
            self._metrics.run_items.labels(status).inc()

    async def _heartbeat(self) -> None:
        """Stops once the pass gave up, so claims it could not hand back go stale."""
        while not self._broken:
            await asyncio.sleep(self._limits.lease_seconds / 3)
            try:
                async with self._sessions() as session:
                    await refresh_claims(session=session, worker_id=self._worker_id)
                    await session.commit()
            except SQLAlchemyError as error:
                log.warning(
                    "run %s: heartbeat not written (%s)", self._context.run_id, type(error).__name__
                )
