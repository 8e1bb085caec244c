"""One pass of one process over one run: a feeder claims items in batches, senders call Nylas
(paced by the client's shared rate limit), a recorder writes outcomes and audit events in
batches, and a heartbeat keeps this worker's claims fresh.

A grant Nylas made must reach the audit log whatever the database does. The recorder retries
for BULKAUTH_RECORD_RETRY_SECONDS; if it still cannot write, the pass stops sending, hands its
claims back and ends (logged), and the next pass sends those users again. Before sending a user
a second time, the pass asks Nylas (List Grants by email) whether an earlier attempt already made
the grant, and records that grant instead of creating it blindly again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

from bot.nylas.errors import NylasApiError, NylasError
from bot.nylas.models import BulkAuthRequest, Grant, GrantFilters, Provider
from storage.audit import Actor, AuditAction, EventSpec, Subject, record_events
from storage.models import BulkRun, ItemStatus, as_utc, utcnow
from storage.runs import (
    ClaimedItem,
    claim_items,
    finish_item,
    refresh_claims,
    release_claims,
    release_items,
)

if TYPE_CHECKING:
    from bot.runs.engine import RunEngine

log = logging.getLogger(__name__)
RECORD_BATCH = 200
MAX_ERROR = 500
MAX_REQUEST_ID = 128  # RunItem.request_id and AuditEvent.request_id
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)  # locked, connection lost, failover
_OUTCOME_ACTIONS = {
    ItemStatus.CREATED: AuditAction.GRANT_CREATED,
    ItemStatus.REAUTHENTICATED: AuditAction.GRANT_REAUTHENTICATED,
    ItemStatus.FAILED: AuditAction.GRANT_FAILED,
}


@dataclass(frozen=True)
class RunContext:
    run: BulkRun
    run_id: int
    credential_id: str
    provider: Provider
    scopes: list[str]
    requester: Actor
    approver: Actor | None


@dataclass(frozen=True)
class Outcome:
    item: ClaimedItem
    status: ItemStatus | None  # None: hand the item back (not sent, or to be retried)
    grant_id: str | None = None
    error: str | None = None
    request_id: str | None = None
    found_at_nylas: bool = False  # an earlier, unrecorded attempt had made the grant


def _fit_request_id(request_id: str | None) -> str | None:
    """Request ids are opaque to us; one longer than the column must not stop the recorder."""
    return request_id[:MAX_REQUEST_ID] if request_id else None


class RunPass:
    def __init__(self, engine: RunEngine, context: RunContext) -> None:
        self._engine = engine
        self._context = context
        self._concurrency = engine.settings.bulkauth_nylas_concurrency
        self._queue: asyncio.Queue[ClaimedItem | None] = asyncio.Queue(
            maxsize=self._concurrency * 2
        )
        self._outcomes: asyncio.Queue[Outcome | None] = asyncio.Queue()
        self._in_flight = 0
        self._recorded = asyncio.Event()
        self._broken = False  # the database refused our writes: stop sending, hand items back

    async def run(self) -> None:
        await self._hand_back()  # claims an earlier pass here left behind (it ended abruptly)
        beating = asyncio.create_task(self._heartbeat())
        recording = asyncio.create_task(self._record_all())
        try:
            await asyncio.gather(
                self._feed(), *(self._send_all() for _ in range(self._concurrency))
            )
            await self._outcomes.put(None)
            await recording
        finally:
            beating.cancel()
            recording.cancel()
        if self._broken:
            await self._hand_back_if_possible()

    async def _hand_back(self) -> None:
        async with self._engine.sessions() as session:
            await release_claims(
                session=session, run_id=self._context.run_id, worker_id=self._engine.worker_id
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
        return AsyncRetrying(
            retry=retry_if_exception_type(TRANSIENT_DB_ERRORS),
            stop=stop_after_delay(self._engine.settings.bulkauth_record_retry_seconds),
            wait=wait_exponential_jitter(multiplier=0.05, max=2.0, jitter=0.05),
            reraise=True,
        )

    async def _claim(self, stale: timedelta) -> list[ClaimedItem]:
        async with self._engine.sessions() as session:
            claimed = await claim_items(
                session=session,
                run_id=self._context.run_id,
                worker_id=self._engine.worker_id,
                limit=self._concurrency,
                stale_before=utcnow() - stale,
            )
            await session.commit()
        return claimed

    async def _next_claims(self, stale: timedelta) -> list[ClaimedItem] | None:
        """Items to send next; None when the pass should end (stopped, or the database is
        gone for longer than the retries)."""
        try:
            if self._broken or not await self._engine.still_running(self._context.run_id):
                return None
            async for attempt in self._db_retrying():
                with attempt:
                    return await self._claim(stale)
        except SQLAlchemyError as error:
            self._give_up("claim users", error)
        return None

    async def _feed(self) -> None:
        stale = timedelta(seconds=self._engine.settings.bulkauth_item_lease_seconds)
        while (claimed := await self._next_claims(stale)) is not None:
            if not claimed:
                if self._in_flight == 0:
                    break
                self._recorded.clear()
                await self._recorded.wait()  # retries come back as pending items
                continue
            self._in_flight += len(claimed)
            for item in claimed:
                await self._queue.put(item)
        for _ in range(self._concurrency):
            await self._queue.put(None)

    async def _send_all(self) -> None:
        while (item := await self._queue.get()) is not None:
            if self._broken or self._engine.should_stop(self._context.run_id):
                await self._outcomes.put(Outcome(item, None))
            else:
                await self._outcomes.put(await self._send(item))

    async def _send(self, item: ClaimedItem) -> Outcome:
        try:
            return await self._grant(item)
        except NylasError as error:
            if error.retryable and item.attempts < self._engine.settings.bulkauth_item_attempts:
                return Outcome(item, None)
            message = error.message if isinstance(error, NylasApiError) else error.user_message
            return Outcome(
                item,
                ItemStatus.FAILED,
                error=message[:MAX_ERROR],
                request_id=_fit_request_id(error.request_id),
            )
        except Exception:  # one user's surprise must not strand the others' outcomes
            log.exception("run %s: unexpected error for one user", self._context.run_id)
            return Outcome(item, ItemStatus.FAILED, error="unexpected error (see the bot's log)")

    async def _grant(self, item: ClaimedItem) -> Outcome:
        context = self._context
        if item.attempts > 1 and not item.known_grant_id:
            found = await self._made_earlier(item)
            if found is not None:
                return Outcome(item, ItemStatus.CREATED, grant_id=found.id, found_at_nylas=True)
        request = BulkAuthRequest(
            provider=context.provider,
            credential_id=context.credential_id,
            email_address=item.email,
            scopes=context.scopes if context.provider == "google" else None,
        )
        created = await self._engine.nylas.create_bulk_grant(request)
        status = ItemStatus.REAUTHENTICATED if item.known_grant_id else ItemStatus.CREATED
        return Outcome(
            item, status, grant_id=created.data.id, request_id=_fit_request_id(created.request_id)
        )

    async def _made_earlier(self, item: ClaimedItem) -> Grant | None:
        """The grant an earlier attempt of this run made for this user, if Nylas has one: valid,
        of this run's credential, and touched since the run started. (Nylas's filtered lists
        can lag fresh grants; missing one only means the user is re-authenticated, once more.)"""
        context = self._context
        started = context.run.started_at
        since = int(as_utc(started).timestamp()) if started else 0
        grants = await self._engine.nylas.list_grants(GrantFilters(email=item.email))
        return next(
            (
                grant
                for grant in grants
                if grant.provider == context.provider
                and grant.credential_id == context.credential_id
                and grant.grant_status == "valid"
                and (grant.updated_at or 0) >= since
            ),
            None,
        )

    async def _record_all(self) -> None:
        done = False
        while not done:
            batch = [await self._outcomes.get()]
            while not self._outcomes.empty() and len(batch) < RECORD_BATCH:
                batch.append(self._outcomes.get_nowait())
            done = None in batch
            finished = [outcome for outcome in batch if outcome is not None]
            if not self._broken:  # once broken, the next pass finds these users' grants
                await self._record_retrying(finished)
            self._in_flight -= len(finished)
            self._recorded.set()
            self._engine.progressed(self._context.run_id)

    async def _record_retrying(self, outcomes: list[Outcome]) -> None:
        """Each attempt is one transaction, so a failed one leaves nothing half-written."""
        try:
            async for attempt in self._db_retrying():
                with attempt:
                    await self._record(outcomes)
        except SQLAlchemyError as error:
            self._give_up(f"record {len(outcomes)} outcomes", error)

    async def _record(self, outcomes: list[Outcome]) -> None:
        handed_back = [outcome.item.id for outcome in outcomes if outcome.status is None]
        specs = []
        async with self._engine.sessions() as session:
            for outcome in outcomes:
                if outcome.status is None:
                    continue
                if await finish_item(
                    session=session,
                    item_id=outcome.item.id,
                    worker_id=self._engine.worker_id,
                    status=outcome.status,
                    grant_id=outcome.grant_id,
                    error=outcome.error,
                    request_id=outcome.request_id,
                ):
                    specs.append(self._event(outcome))
            await release_items(
                session=session, item_ids=handed_back, worker_id=self._engine.worker_id
            )
            await record_events(session=session, specs=specs)
            await session.commit()

    def _event(self, outcome: Outcome) -> EventSpec:
        assert outcome.status is not None
        context = self._context
        return EventSpec(
            actor=context.requester,
            action=_OUTCOME_ACTIONS[outcome.status],
            outcome="failed" if outcome.status == ItemStatus.FAILED else "ok",
            subject=Subject(
                credential_id=context.credential_id,
                email=outcome.item.email,
                grant_id=outcome.grant_id,
                run_id=context.run_id,
            ),
            request_id=outcome.request_id,
            details={
                "requested_by": context.requester.id,
                "approved_by": context.approver.id if context.approver else None,
                "attempts": outcome.item.attempts,
                **({"error": outcome.error} if outcome.error else {}),
                **({"found_at_nylas": True} if outcome.found_at_nylas else {}),
            },
        )

    async def _heartbeat(self) -> None:
        """Stops once the pass gave up, so claims it could not hand back go stale."""
        while not self._broken:
            await asyncio.sleep(self._engine.settings.bulkauth_item_lease_seconds / 3)
            try:
                async with self._engine.sessions() as session:
                    await refresh_claims(session=session, worker_id=self._engine.worker_id)
                    await session.commit()
            except SQLAlchemyError as error:
                log.warning(
                    "run %s: heartbeat not written (%s)", self._context.run_id, type(error).__name__
                )
